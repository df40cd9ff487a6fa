/**
 * depends_on_past and wait_for_downstream (Airflow's PrevDagrunDep): a task may only start once its
 * instance in the previous run of the DAG (the run with the latest earlier logical date, of any run
 * type) is success or skipped, and with wait_for_downstream, once that instance's direct downstream
 * tasks are too. The first run is never blocked, nor a task that did not exist in the previous run.
 */
import type { Kysely, Transaction } from "kysely";
import type { SerializedTask } from "../dag/types.js";
import type { Database, TaskState } from "../store/schema.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Task states of the previous run by task id, or null when the run is the DAG's first. */
export type PreviousRunStates = Map<string, TaskState | null> | null;

const DONE: ReadonlyArray<TaskState | null> = ["success", "skipped"];

export function pastDependencyMet(task: SerializedTask, previous: PreviousRunStates | undefined): boolean {
  if (!task.dependsOnPast && !task.waitForDownstream) return true;
  if (previous === undefined || previous === null) return true;
  if (!previous.has(task.taskId)) return true;
  if (!DONE.includes(previous.get(task.taskId)!)) return false;
  if (!task.waitForDownstream) return true;
  return task.downstream.every((id) => !previous.has(id) || DONE.includes(previous.get(id)!));
}

/** The task states of the run before `runId` (by logical date), for the DAGs that use depends_on_past. */
export async function previousRunStates(db: Db, runId: number): Promise<PreviousRunStates> {
  const run = await db.selectFrom("dag_run").select(["dag_id", "logical_date"]).where("id", "=", runId).executeTakeFirst();
  if (!run) return null;
  const previous = await db
    .selectFrom("dag_run")
    .select("id")
    .where("dag_id", "=", run.dag_id)
    .where("logical_date", "<", run.logical_date)
    .orderBy("logical_date", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!previous) return null;
  const tis = await db.selectFrom("task_instance").select(["task_id", "state"]).where("dag_run_id", "=", previous.id).execute();
  // A mapped task has several instances: it counts as done only when every one of them is.
  const states: Map<string, TaskState | null> = new Map();
  for (const ti of tis) {
    if (!states.has(ti.task_id) || DONE.includes(states.get(ti.task_id)!)) states.set(ti.task_id, ti.state);
  }
  return states;
}
