/** Opens the metadata DB named by a URL and checks that it answers. */
import { sql } from "./kysely.js";
import { DatabaseError } from "../errors.js";
import type { DialectSupport } from "./dialects/dialect.js";
import { maskDatabaseUrl, parseDatabaseUrl } from "./url.js";

export type Store = DialectSupport;

export interface OpenOptions {
  /** Connections kept by PostgreSQL and MySQL pools. Default 10. */
  poolSize?: number;
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  const target = parseDatabaseUrl(url);
  const poolSize = options.poolSize ?? 10;
  let store: Store;
  try {
    // Only the driver in use is loaded: a process starts faster (the HA child's start is on the failover path).
    store =
      target.dialect === "sqlite"
        ? (await import("./dialects/sqlite.js")).openSqlite(target.file!)
        : target.dialect === "postgres"
          ? (await import("./dialects/postgres.js")).openPostgres(url, poolSize)
          : (await import("./dialects/mysql.js")).openMysql(url, poolSize);
    await sql`select 1`.execute(store.db);
  } catch (error) {
    throw new DatabaseError(
      `cannot use the metadata database ${maskDatabaseUrl(url)}: ${describe(error)}. ` +
        "Check ALOFT_DATABASE_URL (or --database-url) and that the server is running and reachable.",
    );
  }
  return store;
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message || String(code);
  }
  return String(error);
}
