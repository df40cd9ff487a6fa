/**
 * What the scheduler does for DAG structure: setup upstreams for all_done_setup_success, the leaves
 * that decide a run's state (teardowns left out, as in Airflow), DAG callback requests, and the
 * structure fields of a try request.
 */
import type { Kysely, Transaction } from "kysely";
import type { SerializedDag, SerializedTask } from "../dag/types.js";
import type { TryRequest } from "../executor/protocol.js";
import type { Database, TaskState } from "../store/schema.js";
import { requestCallback } from "../callbacks/requests.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Operator, sensor and callbacks a runner needs; only the ones the task has. */
export function structureRequestFields(task: SerializedTask): Pick<TryRequest, "operator" | "sensor" | "callbacks"> {
  return {
    ...(task.operator ? { operator: task.operator } : {}),
    ...(task.sensor ? { sensor: { ...task.sensor } } : {}),
    ...(task.callbacks ? { callbacks: [...task.callbacks] } : {}),
  };
}

/** Whether a task has setup tasks among its direct upstreams, and whether one of them succeeded. */
export function setupUpstream(
  task: SerializedTask,
  tasks: ReadonlyMap<string, SerializedTask>,
  state: ReadonlyMap<string, TaskState | null>,
): { hasSetup: boolean; setupSucceeded: boolean } {
  const setups = task.upstream.filter((id) => tasks.get(id)?.isSetup === true);
  return { hasSetup: setups.length > 0, setupSucceeded: setups.some((id) => state.get(id) === "success") };
}

/**
 * The tasks whose states decide the run's state: the leaves, except teardowns, whose failure does not
 * fail the run; the work tasks a teardown leaf cleans up after count instead (Airflow's
 * _tis_for_dagrun_state).
 */
export function runStateTasks(dag: SerializedDag): string[] {
  const tasks = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const ids = new Set<string>();
  for (const task of dag.tasks) {
    if (task.downstream.length > 0) continue;
    if (!task.isTeardown) {
      ids.add(task.taskId);
      continue;
    }
    for (const up of task.upstream) {
      const upstream = tasks.get(up);
      if (upstream && !upstream.isSetup && !upstream.isTeardown) ids.add(up);
    }
  }
  // A DAG of only setups and teardowns: every leaf counts.
  if (ids.size === 0) for (const task of dag.tasks) if (task.downstream.length === 0) ids.add(task.taskId);
  return [...ids];
}

/**
 * Requests the DAG's onSuccess/onFailure callback for a run that just finished, in the transaction
 * that finished it. `reason` as Airflow's: "success", "task_failure", or "timed_out" (dagrunTimeout).
 */
export async function requestDagCallback(
  trx: Db,
  dag: SerializedDag,
  runId: number,
  state: "success" | "failed",
  now: number,
  reason: string = state === "success" ? "success" : "task_failure",
): Promise<void> {
  const callback = state === "success" ? "onSuccess" : "onFailure";
  if (!dag.callbacks?.includes(callback)) return;
  const run = await trx.selectFrom("dag_run").select(["dag_id", "run_id"]).where("id", "=", runId).executeTakeFirst();
  if (!run) return;
  await requestCallback(
    trx,
    { kind: "dag", callback, dag_id: run.dag_id, run_id: run.run_id, task_id: null, context: { state, reason } },
    now,
  );
}
