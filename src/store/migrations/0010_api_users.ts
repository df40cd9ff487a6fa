import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";
import { createTableWithId } from "./tables.js";

/**
 * The API's users (a role each, a slow hash of the password) and the failed logins of the last
 * minutes, kept in the DB so that every API instance behind a load balancer counts the same ones.
 */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  await db.schema
    .createTable("api_user")
    .addColumn("username", "varchar(250)", (c) => c.primaryKey())
    .addColumn("password_hash", "varchar(512)", (c) => c.notNull())
    .addColumn("role", "varchar(16)", (c) => c.notNull())
    .addColumn("active", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("changed_at", "bigint", (c) => c.notNull())
    .addColumn("last_login_at", "bigint")
    .execute();
  await createTableWithId(db, dialect, "api_login_failure")
    .addColumn("username", "varchar(250)", (c) => c.notNull())
    .addColumn("client", "varchar(64)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("api_login_failure_user_idx").on("api_login_failure").columns(["username", "at"]).execute();
  await db.schema.createIndex("api_login_failure_client_idx").on("api_login_failure").columns(["client", "at"]).execute();
}
