import fs from "node:fs";
import type { Command } from "commander";
import { createUser } from "../../api/auth/users.js";
import { ROLES } from "../../api/auth/roles.js";
import { logEvent } from "../../operations/context.js";
import { UsageError } from "../../errors.js";
import { CLI_ACTOR, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

interface CreateFlags extends GlobalFlags {
  username: string;
  role: string;
  password?: string;
  passwordStdin?: boolean;
}

export function registerUsersCommands(program: Command): void {
  const users = program.command("users").description("manage the users of the API and the web UI");

  withGlobalFlags(
    users
      .command("create")
      .description("create a user (the first admin, for example)")
      .requiredOption("--username <name>", "login name")
      .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
      .option("--password <password>", "the password (visible in the process list: prefer --password-stdin)")
      .option("--password-stdin", "read the password from standard input"),
  ).action((flags: CreateFlags) => {
    const password = flags.passwordStdin ? fs.readFileSync(0, "utf8").replace(/\r?\n$/, "") : flags.password;
    if (password === undefined) throw new UsageError("give the password with --password-stdin (or --password)");
    return withStore(flags, async (store) => {
      const user = await createUser(store, flags.username, password, flags.role);
      await logEvent(store.db, CLI_ACTOR, "user.create", {}, { username: user.username, role: user.role });
      process.stdout.write(`created user ${user.username} with role ${user.role}\n`);
    });
  });
}
