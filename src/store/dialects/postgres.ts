import pg from "pg";
import { Kysely, PostgresDialect, sql } from "../kysely.js";
import type { Database } from "../schema.js";
import type { DialectSupport } from "./dialect.js";

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Times are BIGINT milliseconds and counts are BIGINT: both fit a JS number. */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID || oid === NUMERIC_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The PostgreSQL dialect over a Kysely instance (a pool, or the HA controller's single connection). */
export function postgresSupport(db: Kysely<Database>): DialectSupport {
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

export function openPostgres(url: string, poolSize: number): DialectSupport {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000, types: PG_TYPES });
  // A client losing its connection (DB restart, or its session ended by a scheduler it blocked) must not
  // crash the process: idle ones report on the pool, checked-out ones on themselves (their query fails anyway).
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return postgresSupport(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
}
