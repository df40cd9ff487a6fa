/** Building blocks that migrations share; what they create must never change once a migration ships. */
import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";

/** `create table NAME (id <auto-increment primary key>, ...)`: add the other columns, then execute. */
export function createTableWithId(db: Kysely<unknown>, dialect: DialectSupport, name: string) {
  return db.schema
    .createTable(name)
    .addColumn("id", dialect.serialType, (c) => (dialect.name === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()));
}
