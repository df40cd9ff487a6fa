import { createPool } from "mysql2";
import { Kysely, MysqlDialect, sql } from "kysely";
import type { Database } from "../schema.js";
import type { DialectSupport } from "./dialect.js";

export function openMysql(url: string, poolSize: number): DialectSupport {
  const pool = createPool({
    uri: url,
    connectionLimit: poolSize,
    connectTimeout: 10_000,
    // SUM() and DECIMAL come back as numbers, like the other dialects.
    decimalNumbers: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: "Z",
  });
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
  return {
    name: "mysql",
    db,
    nowMs: () => sql<number>`cast(round(unix_timestamp(now(3)) * 1000) as signed)`,
    longText: sql`mediumtext`,
    serialType: "bigint",
    supportsRowLocks: true,
    transaction: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  };
}
