import fs from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "../kysely.js";
import type { Database } from "../schema.js";
import type { DialectSupport } from "./dialect.js";

export function openSqlite(file: string): DialectSupport {
  if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
  const native = new SqliteDatabase(file);
  // WAL lets the CLI read while the scheduler writes; busy_timeout makes writers queue, not fail.
  native.pragma("journal_mode = WAL");
  native.pragma("synchronous = NORMAL");
  native.pragma("busy_timeout = 10000");
  native.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
  return {
    name: "sqlite",
    db,
    nowMs: () => sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`,
    longText: "text",
    serialType: "integer",
    supportsRowLocks: false,
    transaction: (fn) =>
      db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (error) {
          await sql`rollback`.execute(conn);
          throw error;
        }
      }),
    close: () => db.destroy(),
  };
}
