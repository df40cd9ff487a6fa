import { createPool } from "mysql2";
import { Kysely, MysqlDialect, sql } from "../kysely.js";
import type { Database } from "../schema.js";
import type { DialectSupport } from "./dialect.js";

/** Connection options every Aloft connection uses: SUM() and DECIMAL come back as numbers, like the other dialects. */
export const MYSQL_OPTIONS = { connectTimeout: 10_000, decimalNumbers: true, supportBigNumbers: true, bigNumberStrings: false, timezone: "Z" } as const;

/** The MySQL/MariaDB dialect over a Kysely instance (a pool, or the HA controller's single connection). */
export function mysqlSupport(db: Kysely<Database>): DialectSupport {
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

export function openMysql(url: string, poolSize: number): DialectSupport {
  const pool = createPool({ uri: url, connectionLimit: poolSize, ...MYSQL_OPTIONS });
  return mysqlSupport(new Kysely<Database>({ dialect: new MysqlDialect({ pool }) }));
}
