import type { Command } from "commander";
import { describeConfig } from "../../config.js";
import { printRows, resolveConfig, type GlobalFlags, withGlobalFlags } from "../context.js";

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("inspect the configuration");
  withGlobalFlags(
    config
      .command("show")
      .description("print the effective settings, where each comes from, secrets masked")
      .option("--json", "print JSON"),
  ).action((flags: GlobalFlags & { json?: boolean }) => {
    const resolved = resolveConfig(flags);
    if (!flags.json) process.stdout.write(`config file: ${resolved.configFile ?? "(none)"}\n`);
    printRows(describeConfig(resolved), Boolean(flags.json), ["name", "value", "source"]);
  });
}
