import type { Command } from "commander";
import { NotFoundError } from "../../errors.js";
import { SecretBox } from "../../runtime/secrets.js";
import { deleteVariable, findVariable, listVariables, setVariable } from "../../runtime/variables.js";
import { logEvent } from "../../operations/context.js";
import { CLI_ACTOR, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

type JsonFlag = GlobalFlags & { json?: boolean };

export function registerVariablesCommands(program: Command): void {
  const variables = program.command("variables").description("manage Variables (values tasks and templates read; encrypted at rest)");

  withGlobalFlags(variables.command("get").description("print a variable's value").argument("<key>").option("--json", "print JSON")).action(
    (key: string, flags: JsonFlag) =>
      withStore(flags, async (store, config) => {
        const found = await findVariable(store.db, SecretBox.open(config.secretKey, config.home), key);
        if (!found) throw new NotFoundError(`variable '${key}' does not exist: see 'aloft variables list'`);
        process.stdout.write(flags.json ? `${JSON.stringify(found)}\n` : `${found.value}\n`);
      }),
  );

  withGlobalFlags(
    variables
      .command("set")
      .description("create or replace a variable")
      .argument("<key>")
      .argument("<value>")
      .option("--description <text>", "what the variable is for"),
  ).action((key: string, value: string, flags: GlobalFlags & { description?: string }) =>
    withStore(flags, async (store, config) => {
      await setVariable(store.db, SecretBox.open(config.secretKey, config.home), key, value, flags.description);
      await logEvent(store.db, CLI_ACTOR, "variable.set", {}, key);
      process.stdout.write(`variable ${key} set\n`);
    }),
  );

  withGlobalFlags(variables.command("list").description("list the variables (keys and descriptions)").option("--json", "print JSON")).action(
    (flags: JsonFlag) =>
      withStore(flags, async (store, config) => {
        const rows = await listVariables(store.db, SecretBox.open(config.secretKey, config.home));
        printRows(rows.map((r) => ({ key: r.key, description: r.description })), Boolean(flags.json), ["key", "description"]);
      }),
  );

  withGlobalFlags(variables.command("delete").description("delete a variable").argument("<key>")).action((key: string, flags: GlobalFlags) =>
    withStore(flags, async (store) => {
      await deleteVariable(store.db, key);
      await logEvent(store.db, CLI_ACTOR, "variable.delete", {}, key);
      process.stdout.write(`variable ${key} deleted\n`);
    }),
  );
}
