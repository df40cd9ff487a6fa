/**
 * Kysely's values (query builder, `sql`, dialects, migrator), loaded from its CommonJS build. Its ES
 * module build is some 300 files that take ~180 ms to load here, the CommonJS one ~70 ms; every Aloft
 * process pays this at start, and a failover or an in-place restart of the scheduling child waits for
 * it. All of Aloft must take Kysely's values from here (lint enforces it): one module instance, so
 * Kysely's own `instanceof` checks hold. Types come from "kysely" as usual.
 */
import { createRequire } from "node:module";
import type * as KyselyModule from "kysely";

const kysely = createRequire(import.meta.url)("kysely") as typeof KyselyModule;

export const { sql, Migrator, PostgresDialect, MysqlDialect, SqliteDialect } = kysely;
export const Kysely = kysely.Kysely;
export type Kysely<DB> = KyselyModule.Kysely<DB>;
