/** Finding the task instances and tries a request names: a missing one is a 404 saying what there is. */
import { NotFoundError } from "../../errors.js";
import { requireRun, requireTasks, type Db } from "../../operations/context.js";
import { taskInstanceQuery, withResponseColumns, type TaskInstanceRow, type TryRow } from "./shapes.js";

/** Every instance of a task in a run: one, or one per map index, in map index order. */
export async function requireInstances(db: Db, dagId: string, runId: string, taskId: string): Promise<TaskInstanceRow[]> {
  const { run } = await requireRun(db, dagId, runId);
  const rows = await withResponseColumns(taskInstanceQuery(db)).where("ti.dag_run_id", "=", run.id).where("ti.task_id", "=", taskId).orderBy("ti.map_index").execute();
  requireTasks(dagId, runId, rows.map((r) => r.task_id), [taskId]);
  return rows;
}

/** One instance of a task: map index -1 for an unmapped task. */
export async function requireInstance(db: Db, dagId: string, runId: string, taskId: string, mapIndex: number): Promise<TaskInstanceRow> {
  const rows = await requireInstances(db, dagId, runId, taskId);
  const row = rows.find((r) => r.map_index === mapIndex);
  if (row) return row;
  const indexes = rows.map((r) => r.map_index).join(", ");
  if (mapIndex === -1) {
    throw new NotFoundError(`task '${taskId}' of run '${runId}' is mapped: name the instance by its map index (…/taskInstances/${taskId}/{map_index}); it has ${indexes}`);
  }
  const known = rows.every((r) => r.map_index < 0) ? "it is not mapped: leave the map index out" : `its map indexes are ${indexes}`;
  throw new NotFoundError(`task '${taskId}' of run '${runId}' has no map index ${mapIndex}: ${known}`);
}

/** The tries of an instance, first to last, with the kind of worker that ran each. */
export async function triesOf(db: Db, instance: TaskInstanceRow): Promise<TryRow[]> {
  const rows = await db
    .selectFrom("task_try as tt")
    .leftJoin("worker as w", "w.name", "tt.worker")
    .selectAll("tt")
    .select("w.kind as worker_kind")
    .where("tt.ti_id", "=", instance.id)
    .orderBy("tt.try_number")
    .execute();
  return rows.map((row) => ({ ...row, instance }));
}

export function requireTry(tries: TryRow[], instance: TaskInstanceRow, tryNumber: number): TryRow {
  const found = tries.find((t) => t.try_number === tryNumber);
  if (found) return found;
  const known = tries.length === 0 ? "no try of it has started yet" : `its tries are ${tries.map((t) => t.try_number).join(", ")}`;
  throw new NotFoundError(`task '${instance.task_id}'${instance.map_index >= 0 ? ` [${instance.map_index}]` : ""} of run '${instance.run_id}' has no try ${tryNumber}: ${known}`);
}
