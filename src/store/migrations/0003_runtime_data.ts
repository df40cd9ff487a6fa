import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";

/**
 * Task runtime data: Variables, Connections (secrets encrypted at rest) and the rendered template
 * fields of each task instance.
 */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  const key = "varchar(250)";
  await db.schema
    .createTable("variable")
    .addColumn("key", key, (c) => c.primaryKey())
    // Encrypted (see runtime/secrets.ts), so even short values take more room than they look.
    .addColumn("value", dialect.longText, (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("is_encrypted", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("connection")
    .addColumn("conn_id", key, (c) => c.primaryKey())
    .addColumn("conn_type", key, (c) => c.notNull())
    .addColumn("host", "varchar(500)")
    .addColumn("schema", "varchar(500)")
    .addColumn("login", "varchar(500)")
    // Encrypted: password and extra (JSON object).
    .addColumn("password", "text")
    .addColumn("port", "integer")
    .addColumn("extra", "text")
    .addColumn("description", "text")
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  // JSON of the rendered command and env of a bash try, secrets masked; read by `aloft tasks render`.
  await db.schema.alterTable("task_instance").addColumn("rendered_fields", "text").execute();
}
