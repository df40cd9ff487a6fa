/** The `aloft` command line. Usage errors print one line and exit with code 2. */
import { Command, CommanderError } from "commander";
import { DatabaseError, UsageError } from "../errors.js";
import { VERSION } from "../version.js";
import { registerApiCommand } from "./commands/api.js";
import { registerAssetsCommands } from "./commands/assets.js";
import { registerBackfillCommands } from "./commands/backfill.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerConnectionsCommands } from "./commands/connections.js";
import { registerDagsCommands } from "./commands/dags.js";
import { registerDbCommands } from "./commands/db.js";
import { registerDeployCommand } from "./commands/deploy.js";
import { registerHaCommands } from "./commands/ha.js";
import { registerPoolsCommands } from "./commands/pools.js";
import { registerStandaloneCommand } from "./commands/standalone.js";
import { registerTasksCommands } from "./commands/tasks.js";
import { registerUsersCommands } from "./commands/users.js";
import { registerVariablesCommands } from "./commands/variables.js";
import { registerWorkerCommands } from "./commands/worker.js";

export function buildProgram(): Command {
  const program = new Command("aloft")
    .description("Aloft: a highly available workflow orchestrator for TypeScript teams")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerStandaloneCommand(program);
  registerApiCommand(program);
  registerHaCommands(program);
  registerDbCommands(program);
  registerDeployCommand(program);
  registerDagsCommands(program);
  registerTasksCommands(program);
  registerBackfillCommands(program);
  registerAssetsCommands(program);
  registerPoolsCommands(program);
  registerConfigCommands(program);
  registerVariablesCommands(program);
  registerConnectionsCommands(program);
  registerWorkerCommands(program);
  registerUsersCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // `aloft … | head`: the reader left; stop quietly instead of crashing on the next write.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its message.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError || error instanceof DatabaseError) {
      process.stderr.write(`aloft: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`aloft: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
