import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";

/**
 * Operations by hand and queues: notes on DAG runs and task instances (set from the CLI), and the
 * queue each try was sent to.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectSupport): Promise<void> {
  await db.schema.alterTable("dag_run").addColumn("note", "text").execute();
  await db.schema.alterTable("task_instance").addColumn("note", "text").execute();
  await db.schema.alterTable("task_try").addColumn("queue", "varchar(250)").execute();
}
