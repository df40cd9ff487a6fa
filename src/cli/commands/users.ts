import fs from "node:fs";
import type { Command } from "commander";
import { changeUser, createUser, listUsers, type UserChange } from "../../api/auth/users.js";
import { ROLES } from "../../api/auth/roles.js";
import { logEvent } from "../../operations/context.js";
import { UsageError } from "../../errors.js";
import { CLI_ACTOR, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

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
    const password = readPassword(flags);
    if (password === undefined) throw new UsageError("give the password with --password-stdin (or --password)");
    return withStore(flags, async (store) => {
      const user = await createUser(store, flags.username, password, flags.role);
      await logEvent(store.db, CLI_ACTOR, "user.create", {}, { username: user.username, role: user.role });
      process.stdout.write(`created user ${user.username} with role ${user.role}\n`);
    });
  });

  withGlobalFlags(users.command("list").description("list the users with their role, state and last login").option("--json", "print JSON")).action(
    (flags: GlobalFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const rows = (await listUsers(store)).map((u) => ({
          username: u.username,
          role: u.role,
          active: u.active,
          created_at: new Date(u.createdAt).toISOString(),
          last_login_at: u.lastLoginAt === null ? null : new Date(u.lastLoginAt).toISOString(),
        }));
        printRows(rows, Boolean(flags.json), ["username", "role", "active", "created_at", "last_login_at"]);
      }),
  );

  withGlobalFlags(
    users
      .command("change")
      .description("change a user's password, role or state; ends the user's current tokens and sessions")
      .argument("<username>")
      .option("--role <role>", `one of ${ROLES.join(", ")}`)
      .option("--password <password>", "a new password (visible in the process list: prefer --password-stdin)")
      .option("--password-stdin", "read a new password from standard input")
      .option("--deactivate", "the user can no longer log in")
      .option("--activate", "the user can log in again"),
  ).action((username: string, flags: GlobalFlags & { role?: string; password?: string; passwordStdin?: boolean; deactivate?: boolean; activate?: boolean }) => {
    if (flags.activate && flags.deactivate) throw new UsageError("--activate and --deactivate cannot go together");
    const change: UserChange = { role: flags.role, password: readPassword(flags), active: flags.activate ? true : flags.deactivate ? false : undefined };
    if (Object.values(change).every((v) => v === undefined)) throw new UsageError("nothing to change: give --role, --password(-stdin), --activate or --deactivate");
    return withStore(flags, async (store) => {
      const user = await changeUser(store, username, change);
      const changed = Object.entries(change).filter(([, v]) => v !== undefined).map(([k]) => k);
      await logEvent(store.db, CLI_ACTOR, "user.change", {}, { username, changed });
      process.stdout.write(`changed ${changed.join(", ")} of user ${user.username} (role ${user.role}, ${user.active ? "active" : "deactivated"})\n`);
    });
  });
}

function readPassword(flags: { password?: string; passwordStdin?: boolean }): string | undefined {
  return flags.passwordStdin ? fs.readFileSync(0, "utf8").replace(/\r?\n$/, "") : flags.password;
}
