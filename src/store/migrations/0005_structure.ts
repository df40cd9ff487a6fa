import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";
import { createTableWithId } from "./tables.js";

/**
 * DAG structure features: sensor reschedules (so a sensor's timeout counts from its first check across
 * reschedules, as Airflow's task_reschedule table) and callback requests (DAG callbacks, and task
 * callbacks a runner could not run, written in the transaction that decided them and run by a
 * callback runner in a separate process).
 */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  const id = (name: string) => createTableWithId(db, dialect, name);
  const key = "varchar(250)";

  await id("task_reschedule")
    .addColumn("ti_id", "bigint", (c) => c.notNull())
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("run_id", key, (c) => c.notNull())
    .addColumn("task_id", key, (c) => c.notNull())
    .addColumn("map_index", "integer", (c) => c.notNull())
    .addColumn("try_number", "integer", (c) => c.notNull())
    .addColumn("start_date", "bigint", (c) => c.notNull())
    .addColumn("end_date", "bigint", (c) => c.notNull())
    .addColumn("reschedule_date", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("task_reschedule_ti_idx").on("task_reschedule").columns(["ti_id", "start_date"]).execute();

  await id("callback_request")
    .addColumn("kind", "varchar(16)", (c) => c.notNull())
    .addColumn("callback", "varchar(32)", (c) => c.notNull())
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("run_id", key, (c) => c.notNull())
    .addColumn("task_id", key)
    .addColumn("context", dialect.longText, (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("hostname", key)
    .addColumn("error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("started_at", "bigint")
    .addColumn("ended_at", "bigint")
    .execute();
  await db.schema.createIndex("callback_request_state_idx").on("callback_request").columns(["state", "id"]).execute();
}
