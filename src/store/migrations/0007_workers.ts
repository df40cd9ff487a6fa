import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";

/**
 * Workers: one row per worker process (remote workers, and the local executor of a scheduler), with
 * a heartbeat in DB time, so that a dead worker is noticed and its tries are retried or failed; and
 * the worker that claimed each try.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectSupport): Promise<void> {
  const key = "varchar(250)";
  await db.schema
    .createTable("worker")
    .addColumn("name", key, (c) => c.primaryKey())
    .addColumn("kind", "varchar(16)", (c) => c.notNull())
    .addColumn("hostname", key, (c) => c.notNull())
    .addColumn("pid", "integer", (c) => c.notNull())
    .addColumn("queues", "text", (c) => c.notNull())
    .addColumn("concurrency", "integer", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("version", "varchar(64)", (c) => c.notNull())
    .addColumn("started_at", "bigint", (c) => c.notNull())
    .addColumn("last_heartbeat", "bigint", (c) => c.notNull())
    .addColumn("stopped_at", "bigint")
    .addColumn("running", "integer", (c) => c.notNull())
    .addColumn("tries_done", "integer", (c) => c.notNull())
    .addColumn("tries_failed", "integer", (c) => c.notNull())
    .addColumn("reason", "text")
    .execute();
  await db.schema.alterTable("task_instance").addColumn("worker", key).execute();
  await db.schema.alterTable("task_try").addColumn("worker", key).execute();
  await db.schema.createIndex("task_instance_worker_idx").on("task_instance").columns(["worker", "state"]).execute();
}
