import type { Command } from "commander";
import { openStore } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { maskDatabaseUrl } from "../../store/url.js";
import { resolveConfig, type GlobalFlags, withGlobalFlags } from "../context.js";

export function registerDbCommands(program: Command): void {
  const db = program.command("db").description("manage the metadata database");
  withGlobalFlags(db.command("migrate").description("create or upgrade the metadata database schema")).action(
    async (flags: GlobalFlags) => {
      const { config } = resolveConfig(flags);
      const store = await openStore(config.databaseUrl, { poolSize: 1 });
      try {
        const report = await migrate(store);
        const where = maskDatabaseUrl(config.databaseUrl);
        process.stdout.write(
          report.applied.length > 0
            ? `applied ${report.applied.length} migration(s) to ${where}: ${report.applied.join(", ")}\n`
            : `${where} is up to date (at ${report.current})\n`,
        );
      } finally {
        await store.close();
      }
    },
  );
}
