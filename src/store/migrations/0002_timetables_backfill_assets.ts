import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";
import { createTableWithId } from "./tables.js";

/**
 * Timetables, backfills and assets: the next run's data interval on the DAG, backfills and the runs
 * they own, assets with their events, which DAGs are scheduled on which asset, and the events each
 * such DAG has yet to consume.
 */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  const id = (name: string) => createTableWithId(db, dialect, name);
  const key = "varchar(250)";
  const uri = "varchar(500)";

  await db.schema.alterTable("dag").addColumn("next_dagrun_data_interval_start", "bigint").execute();
  await db.schema.alterTable("dag").addColumn("next_dagrun_data_interval_end", "bigint").execute();
  await db.schema.alterTable("dag_run").addColumn("backfill_id", "bigint").execute();
  await db.schema.createIndex("dag_run_backfill_idx").on("dag_run").columns(["backfill_id", "state"]).execute();

  await id("backfill")
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("from_date", "bigint", (c) => c.notNull())
    .addColumn("to_date", "bigint", (c) => c.notNull())
    .addColumn("max_active_runs", "integer", (c) => c.notNull())
    .addColumn("reprocess", "varchar(32)", (c) => c.notNull())
    .addColumn("run_backwards", "integer", (c) => c.notNull())
    .addColumn("is_paused", "integer", (c) => c.notNull())
    .addColumn("conf", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("completed_at", "bigint")
    .addColumn("cancelled_at", "bigint")
    .execute();

  await id("asset")
    .addColumn("uri", uri, (c) => c.notNull().unique())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await id("asset_event")
    .addColumn("uri", uri, (c) => c.notNull())
    .addColumn("source_dag_id", key)
    .addColumn("source_run_id", key)
    .addColumn("source_task_id", key)
    .addColumn("source_map_index", "integer")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("asset_event_uri_idx").on("asset_event").columns(["uri", "id"]).execute();

  // Which DAGs are scheduled on which asset; written by the DAG processor.
  await db.schema
    .createTable("dag_schedule_asset")
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("uri", uri, (c) => c.notNull())
    .addPrimaryKeyConstraint("dag_schedule_asset_pk", ["dag_id", "uri"])
    .execute();

  // Events a DAG scheduled on assets has not consumed yet (Airflow's asset_dag_run_queue).
  await id("asset_dag_run_queue")
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("uri", uri, (c) => c.notNull())
    .addColumn("event_id", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("asset_dag_run_queue_dag_idx").on("asset_dag_run_queue").columns(["dag_id", "id"]).execute();

  // Which events each asset-triggered run consumed.
  await db.schema
    .createTable("dag_run_asset_event")
    .addColumn("dag_run_id", "bigint", (c) => c.notNull())
    .addColumn("event_id", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("dag_run_asset_event_pk", ["dag_run_id", "event_id"])
    .execute();
}
