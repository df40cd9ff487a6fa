/** What every CLI command shares: effective config, the metadata DB, output in text or JSON. */
import { Option, type Command } from "commander";
import { loadConfig, type AloftConfig, type ResolvedConfig } from "../config.js";
import { UsageError } from "../errors.js";
import { openStore, type Store } from "../store/db.js";
import { pendingMigrations } from "../store/migrate.js";

/** Who the event log records for changes made from the CLI. */
export const CLI_ACTOR = { owner: "cli" } as const;

/** Adds the flags every command that reads the config accepts. */
export function withGlobalFlags(command: Command): Command {
  return command
    .addOption(new Option("--database-url <url>", "metadata DB URL (env ALOFT_DATABASE_URL)"))
    .addOption(new Option("--home <dir>", "Aloft home folder (env ALOFT_HOME, default ~/aloft)"))
    .addOption(new Option("--config <file>", "config file (env ALOFT_CONFIG, default $ALOFT_HOME/aloft.toml)"));
}

/** Flags accepted by every command that reads the config. */
export interface GlobalFlags {
  databaseUrl?: string;
  home?: string;
  config?: string;
}

export function resolveConfig(flags: GlobalFlags, extra: Partial<Record<keyof AloftConfig, string | number | boolean | undefined>> = {}): ResolvedConfig {
  return loadConfig({ flags: { home: flags.home, databaseUrl: flags.databaseUrl, ...extra }, configFile: flags.config });
}

/** Opens the DB for a command that needs the schema in place (everything but `db migrate` and standalone). */
export async function withStore<T>(flags: GlobalFlags, fn: (store: Store, config: AloftConfig) => Promise<T>): Promise<T> {
  const { config } = resolveConfig(flags);
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    await requireMigrated(store);
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

/** Fails with what to run when the schema is not in place (missing migrations). */
export async function requireMigrated(store: Store): Promise<void> {
  const pending = await pendingMigrations(store);
  if (pending.length > 0) {
    throw new UsageError(
      `the metadata database is not set up (missing migrations: ${pending.join(", ")}): run 'aloft db migrate' first`,
    );
  }
}

/** Prints rows as JSON, or as an aligned table with the given columns. */
export function printRows(rows: Array<Record<string, unknown>>, json: boolean, columns: string[]): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write("(none)\n");
    return;
  }
  const text = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  process.stdout.write(`${line(columns)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => text(row[c])))}\n`);
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Parses a `--conf` JSON object, naming the flag in the error. */
export function parseConf(text: string | undefined): Record<string, unknown> {
  return parseJsonObjectFlag("--conf", text, '{"key": "value"}');
}

/** Parses a flag holding a JSON object ({} when absent); errors name the flag and show `example`. */
export function parseJsonObjectFlag(flag: string, text: string | undefined, example: string): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}; pass an object such as ${flag} '${example}'`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`${flag} must be a JSON object such as '${example}', got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Parses an ISO 8601 date flag, naming the flag in the error. */
export function parseIsoFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} '${text}' is not an ISO 8601 date such as 2025-01-01T00:00:00Z`);
  return ms;
}
