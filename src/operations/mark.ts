/**
 * Setting states by hand, as Airflow's set_state / set_dag_run_state_to_*: marking task instances
 * success or failed (a running try is then stopped by its executor, and its outcome ignored), and
 * marking a whole run. Nothing done here fires callbacks: they belong to states the engine reaches.
 */
import type { Store } from "../store/db.js";
import { TERMINAL_TASK_STATES, type TaskState } from "../store/schema.js";
import { clearInRun } from "./clear.js";
import { logEvent, requireRun, requireTasks, withRelatives, type Actor } from "./context.js";

export type MarkState = "success" | "failed";
export const MARK_STATES: readonly MarkState[] = ["success", "failed"];

export interface MarkOptions {
  /** Also mark every task before it. Default false. */
  upstream?: boolean;
  /** Also mark every task after it. Default false. */
  downstream?: boolean;
}

export interface MarkedTi {
  taskId: string;
  from: TaskState | null;
  to: TaskState;
}

export interface MarkResult {
  marked: MarkedTi[];
  /** Failed or upstream_failed tasks after the marked ones, cleared so that they run again (Airflow does the same). */
  resumed: string[];
}

export async function markTaskInstances(
  store: Store,
  actor: Actor,
  dagId: string,
  runId: string,
  taskId: string,
  state: MarkState,
  options: MarkOptions = {},
): Promise<MarkResult> {
  return store.transaction(async (trx) => {
    const found = await requireRun(trx, dagId, runId);
    const tis = await trx.selectFrom("task_instance").select(["id", "task_id", "state"]).where("dag_run_id", "=", found.run.id).execute();
    requireTasks(dagId, runId, tis.map((t) => t.task_id), [taskId]);
    const selected = withRelatives(found.dag, [taskId], Boolean(options.upstream), Boolean(options.downstream));
    const now = Date.now();
    const marked: MarkedTi[] = [];
    for (const ti of tis.filter((t) => selected.has(t.task_id) && t.state !== state)) {
      await trx
        .updateTable("task_instance")
        .set((eb) => ({
          state,
          start_date: eb.fn.coalesce("start_date", eb.val(now)),
          end_date: now,
          next_try_at: null,
          updated_at: now,
        }))
        .where("id", "=", ti.id)
        .execute();
      marked.push({ taskId: ti.task_id, from: ti.state, to: state });
      await logEvent(trx, actor, `mark_${state}`, { dagId, runId, taskId: ti.task_id }, { from: ti.state, to: state });
    }
    // Airflow's set_task_instance_state: failed tasks downstream of the marked one get to run again.
    const cleared = await clearInRun(trx, actor, found, {
      taskIds: [taskId],
      downstream: true,
      onlyFailed: true,
      exclude: selected,
    });
    return { marked, resumed: cleared.cleared.map((c) => c.taskId) };
  });
}

export interface MarkRunResult {
  from: string;
  to: MarkState;
  tasks: MarkedTi[];
}

/**
 * Marks a run success or failed. Success: every unfinished task instance becomes success. Failed:
 * running ones become failed, the other unfinished ones skipped.
 */
export async function markRun(store: Store, actor: Actor, dagId: string, runId: string, state: MarkState): Promise<MarkRunResult> {
  return store.transaction(async (trx) => {
    const { run } = await requireRun(trx, dagId, runId);
    const tis = await trx.selectFrom("task_instance").select(["id", "task_id", "state"]).where("dag_run_id", "=", run.id).execute();
    const now = Date.now();
    const tasks: MarkedTi[] = [];
    for (const ti of tis) {
      if (ti.state !== null && TERMINAL_TASK_STATES.includes(ti.state)) continue;
      const to: TaskState = state === "success" ? "success" : ti.state === "running" || ti.state === "restarting" ? "failed" : "skipped";
      await trx
        .updateTable("task_instance")
        .set((eb) => ({ state: to, start_date: eb.fn.coalesce("start_date", eb.val(now)), end_date: now, next_try_at: null, updated_at: now }))
        .where("id", "=", ti.id)
        .execute();
      tasks.push({ taskId: ti.task_id, from: ti.state, to });
    }
    await trx
      .updateTable("dag_run")
      .set((eb) => ({ state, start_date: eb.fn.coalesce("start_date", eb.val(now)), end_date: now }))
      .where("id", "=", run.id)
      .execute();
    await logEvent(trx, actor, `mark_run_${state}`, { dagId, runId }, { from: run.state, to: state, tasks });
    return { from: run.state, to: state, tasks };
  });
}
