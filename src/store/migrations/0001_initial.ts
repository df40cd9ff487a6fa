import type { CreateTableBuilder, Kysely } from "kysely";
import { sql } from "../kysely.js";
import type { DialectSupport } from "../dialects/dialect.js";

/** The first schema: DAGs, runs, task instances and tries, XCom, pools, the scheduler lease. */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  const id = (name: string) =>
    db.schema
      .createTable(name)
      .addColumn("id", dialect.serialType, (c) =>
        dialect.name === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
      );
  const text = dialect.longText;
  const key = "varchar(250)";
  /** The task instance a row belongs to, with its readable key, as tries, logs and XComs carry it. */
  const withTaskInstance = <T extends CreateTableBuilder<string, never>>(table: T) =>
    table
      .addColumn("ti_id", "bigint", (c) => c.notNull())
      .addColumn("dag_id", key, (c) => c.notNull())
      .addColumn("run_id", key, (c) => c.notNull())
      .addColumn("task_id", key, (c) => c.notNull())
      .addColumn("map_index", "integer", (c) => c.notNull());

  await db.schema
    .createTable("dag")
    .addColumn("dag_id", key, (c) => c.primaryKey())
    .addColumn("fileloc", "varchar(1000)", (c) => c.notNull())
    .addColumn("is_paused", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("is_active", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("description", "text")
    .addColumn("tags", "text", (c) => c.notNull())
    .addColumn("schedule", key)
    .addColumn("timezone", "varchar(64)", (c) => c.notNull())
    .addColumn("max_active_runs", "integer", (c) => c.notNull())
    .addColumn("serialized", text, (c) => c.notNull())
    .addColumn("dag_hash", "varchar(64)", (c) => c.notNull())
    .addColumn("module_path", "varchar(1000)", (c) => c.notNull())
    .addColumn("last_parsed_at", "bigint", (c) => c.notNull())
    .addColumn("next_dagrun_logical_date", "bigint")
    .addColumn("next_dagrun_create_after", "bigint")
    .execute();

  await id("import_error")
    .addColumn("filename", "varchar(1000)", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await id("dag_run")
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("run_id", key, (c) => c.notNull())
    .addColumn("run_type", "varchar(32)", (c) => c.notNull())
    .addColumn("state", "varchar(32)", (c) => c.notNull())
    .addColumn("logical_date", "bigint", (c) => c.notNull())
    .addColumn("data_interval_start", "bigint", (c) => c.notNull())
    .addColumn("data_interval_end", "bigint", (c) => c.notNull())
    .addColumn("run_after", "bigint", (c) => c.notNull())
    .addColumn("conf", "text", (c) => c.notNull())
    .addColumn("queued_at", "bigint")
    .addColumn("start_date", "bigint")
    .addColumn("end_date", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("dag_run_dag_id_run_id_uq", ["dag_id", "run_id"])
    .execute();
  await db.schema.createIndex("dag_run_state_idx").on("dag_run").columns(["state", "dag_id"]).execute();

  await id("task_instance")
    .addColumn("dag_run_id", "bigint", (c) => c.notNull())
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("run_id", key, (c) => c.notNull())
    .addColumn("task_id", key, (c) => c.notNull())
    .addColumn("map_index", "integer", (c) => c.notNull().defaultTo(-1))
    .addColumn("state", "varchar(32)")
    .addColumn("try_number", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("max_tries", "integer", (c) => c.notNull())
    .addColumn("operator", "varchar(32)", (c) => c.notNull())
    .addColumn("queue", key, (c) => c.notNull())
    .addColumn("pool", key, (c) => c.notNull())
    .addColumn("pool_slots", "integer", (c) => c.notNull())
    .addColumn("priority_weight", "integer", (c) => c.notNull())
    .addColumn("queued_at", "bigint")
    .addColumn("start_date", "bigint")
    .addColumn("end_date", "bigint")
    .addColumn("duration_ms", "bigint")
    .addColumn("next_try_at", "bigint")
    .addColumn("hostname", key)
    .addColumn("pid", "integer")
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("task_instance_key_uq", ["dag_id", "run_id", "task_id", "map_index"])
    .execute();
  await db.schema.createIndex("task_instance_run_idx").on("task_instance").columns(["dag_run_id", "state"]).execute();
  await db.schema.createIndex("task_instance_state_idx").on("task_instance").columns(["state"]).execute();

  await withTaskInstance(db.schema.createTable("task_try"))
    .addColumn("try_number", "integer", (c) => c.notNull())
    .addColumn("state", "varchar(32)", (c) => c.notNull())
    .addColumn("hostname", key, (c) => c.notNull())
    .addColumn("pid", "integer")
    .addColumn("start_date", "bigint", (c) => c.notNull())
    .addColumn("end_date", "bigint")
    .addColumn("duration_ms", "bigint")
    .addPrimaryKeyConstraint("task_try_pk", ["ti_id", "try_number"])
    .execute();

  // Logs live in the DB so that any node can read them, while the try runs and after.
  await withTaskInstance(id("task_log"))
    .addColumn("try_number", "integer", (c) => c.notNull())
    .addColumn("chunk", text, (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("task_log_try_idx").on("task_log").columns(["ti_id", "try_number", "id"]).execute();

  await withTaskInstance(db.schema.createTable("xcom"))
    .addColumn("key", key, (c) => c.notNull())
    .addColumn("value", text, (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("xcom_pk", ["ti_id", "key"])
    .execute();

  await db.schema
    .createTable("scheduler_lease")
    .addColumn("name", "varchar(64)", (c) => c.primaryKey())
    .addColumn("holder", key, (c) => c.notNull())
    .addColumn("epoch", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("renewed_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("pool")
    .addColumn("pool", key, (c) => c.primaryKey())
    .addColumn("slots", "integer", (c) => c.notNull())
    .addColumn("description", "text")
    .execute();
  await sql`insert into pool (pool, slots, description) values ('default_pool', 128, 'Default pool')`.execute(db);

  await id("event_log")
    .addColumn("dttm", "bigint", (c) => c.notNull())
    .addColumn("event", "varchar(100)", (c) => c.notNull())
    .addColumn("dag_id", key)
    .addColumn("run_id", key)
    .addColumn("task_id", key)
    .addColumn("owner", key, (c) => c.notNull())
    .addColumn("extra", "text")
    .execute();
  await db.schema.createIndex("event_log_dttm_idx").on("event_log").column("dttm").execute();
}
