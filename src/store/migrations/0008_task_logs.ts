import type { Kysely } from "kysely";

/**
 * Task log size caps (config task_log_max_bytes): each log chunk carries its byte offset in the try's
 * whole log, so readers see where text was left out; task_log_size holds each try's written size and
 * head, one row per try that appenders lock.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("task_log").addColumn("log_offset", "bigint").execute();
  await db.schema
    .createTable("task_log_size")
    .addColumn("ti_id", "bigint", (c) => c.notNull())
    .addColumn("try_number", "integer", (c) => c.notNull())
    .addColumn("written_bytes", "bigint", (c) => c.notNull())
    .addColumn("head_bytes", "bigint")
    .addPrimaryKeyConstraint("task_log_size_pk", ["ti_id", "try_number"])
    .execute();
}
