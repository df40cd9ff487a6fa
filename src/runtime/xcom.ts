/** XCom: small JSON values a task pushes (or returns) and later tasks of the same run pull. */
import type { Kysely, Transaction } from "kysely";
import type { SerializedDag } from "../dag/types.js";
import type { TryRequest } from "../executor/protocol.js";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { taskLabel } from "../dag/validate.js";

type Db = Kysely<Database> | Transaction<Database>;

/** The key a task's return value is stored under (Airflow's). */
export const RETURN_VALUE_KEY = "return_value";

/** The error when a value is over `xcom_max_bytes`: names DAG, task, key, size and limit. */
export function xcomSizeError(where: string, key: string, bytes: number, limit: number): string {
  return (
    `${where}: XCom '${key}' is ${bytes} bytes of JSON, over the limit of ${limit} bytes (config xcom_max_bytes, ` +
    "env ALOFT_XCOM_MAX_BYTES); nothing was stored. Keep large data in files or a database and pass its location"
  );
}

export function checkXcomSize(where: string, key: string, json: string, limit: number): void {
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > limit) throw new Error(xcomSizeError(where, key, bytes, limit));
}

export function checkXcomKey(where: string, key: unknown): asserts key is string {
  if (typeof key !== "string" || key === "" || key.length > 250) {
    throw new Error(`${where}: an XCom key must be a non-empty string of at most 250 characters, got ${JSON.stringify(key)}`);
  }
  if (key === RETURN_VALUE_KEY) {
    throw new Error(`${where}: the key '${RETURN_VALUE_KEY}' holds the task's return value; return the value instead of pushing it`);
  }
}

/** Stores (or replaces) one XCom of the running try's task instance. */
export async function pushXcom(store: Store, request: TryRequest, key: string, json: string): Promise<void> {
  checkXcomKey(taskLabel(request.dagId, request.taskId), key);
  await store.transaction(async (trx) => {
    await trx.deleteFrom("xcom").where("ti_id", "=", request.tiId).where("key", "=", key).execute();
    await trx
      .insertInto("xcom")
      .values({
        ti_id: request.tiId,
        key,
        dag_id: request.dagId,
        run_id: request.runId,
        task_id: request.taskId,
        map_index: request.mapIndex,
        value: json,
        created_at: Date.now(),
      })
      .execute();
  });
}

export interface PullOptions {
  taskId: string;
  /** Default "return_value". */
  key: string;
  /** For a mapped task: one instance's value; omitted: the list of every instance's value, by map index. */
  mapIndex?: number;
}

/**
 * An XCom of a task of the same run: the value, or undefined when there is none. A mapped task with no
 * map index gives the values of all its instances ordered by map index (those that have one).
 */
export async function pullXcom(db: Db, request: TryRequest, dag: SerializedDag, options: PullOptions): Promise<unknown> {
  const where = taskLabel(request.dagId, request.taskId);
  const task = dag.tasks.find((t) => t.taskId === options.taskId);
  if (typeof options.taskId !== "string" || !task) {
    throw new Error(
      `${where}: xcom.pull: task ${JSON.stringify(options.taskId)} is not in DAG '${request.dagId}'; its tasks are: ${dag.tasks.map((t) => t.taskId).join(", ")}`,
    );
  }
  const query = db
    .selectFrom("xcom")
    .select(["value", "map_index"])
    .where("dag_id", "=", request.dagId)
    .where("run_id", "=", request.runId)
    .where("task_id", "=", options.taskId)
    .where("key", "=", options.key);
  if (task.expandFrom !== undefined && options.mapIndex === undefined) {
    const rows = await query.where("map_index", ">=", 0).orderBy("map_index").execute();
    return rows.map((r) => JSON.parse(r.value) as unknown);
  }
  const row = await query.where("map_index", "=", options.mapIndex ?? -1).executeTakeFirst();
  return row ? (JSON.parse(row.value) as unknown) : undefined;
}

/**
 * The list a mapped task is expanded over: its source's return value, or, when the source is itself
 * mapped, the return values of the source's instances by map index. undefined when there is none.
 */
export async function readMapSource(db: Db, dagId: string, runId: string, source: string, sourceMapped: boolean): Promise<unknown> {
  const query = db
    .selectFrom("xcom")
    .select("value")
    .where("dag_id", "=", dagId)
    .where("run_id", "=", runId)
    .where("task_id", "=", source)
    .where("key", "=", RETURN_VALUE_KEY);
  if (sourceMapped) {
    const rows = await query.where("map_index", ">=", 0).orderBy("map_index").execute();
    return rows.map((r) => JSON.parse(r.value) as unknown);
  }
  const row = await query.where("map_index", "=", -1).executeTakeFirst();
  return row ? (JSON.parse(row.value) as unknown) : undefined;
}
