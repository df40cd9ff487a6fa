import pg from "pg";
import { Kysely, PostgresDialect, sql } from "kysely";
import type { Database } from "../schema.js";
import type { DialectSupport } from "./dialect.js";

const INT8_OID = 20;
const NUMERIC_OID = 1700;

export function openPostgres(url: string, poolSize: number): DialectSupport {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 10_000,
    // Times are BIGINT milliseconds and counts are BIGINT: both fit a JS number.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID || oid === NUMERIC_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection (DB restart) must not crash the process.
  pool.on("error", () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    name: "postgres",
    db,
    nowMs: () => sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`,
    longText: "text",
    serialType: "bigserial",
    supportsRowLocks: true,
    transaction: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  };
}
