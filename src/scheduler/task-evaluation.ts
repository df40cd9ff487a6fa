/**
 * Decides, for one DAG run, which task instances move on: tasks whose trigger rule passes become
 * scheduled, tasks whose rule can never pass become skipped or upstream_failed (cascading in the same
 * pass), retries whose delay is over are scheduled again; and once every task is finished, the run's
 * own state. Pure: it reads states and returns changes.
 */
import type { SerializedDag } from "../dag/types.js";
import { TERMINAL_TASK_STATES, type DagRunState, type TaskState } from "../store/schema.js";
import { pastDependencyMet, type PreviousRunStates } from "./depends-on-past.js";
import { countUpstream, evaluateTriggerRule } from "./trigger-rules.js";
import { runStateTasks, setupUpstream } from "./structure.js";

export interface TiStateRow {
  id: number;
  task_id: string;
  state: TaskState | null;
  next_try_at: number | null;
}

export interface RunEvaluation {
  /** New state → ids of task instances to move there (from none, or from up_for_retry for "scheduled"). */
  fromNone: Map<"scheduled" | "skipped" | "upstream_failed" | "removed", number[]>;
  retriesDue: number[];
  /** Set when every task has finished. */
  runState?: Extract<DagRunState, "success" | "failed">;
}

/**
 * @param previousRun task states of the DAG's previous run, for tasks with dependsOnPast; null when
 *   this is the first run; undefined when not loaded (the DAG has no such task).
 */
export function evaluateRun(dag: SerializedDag, tis: TiStateRow[], now: number, previousRun?: PreviousRunStates): RunEvaluation {
  const byTask = new Map(tis.map((ti) => [ti.task_id, ti]));
  const state = new Map<string, TaskState | null>(tis.map((ti) => [ti.task_id, ti.state]));
  const result: RunEvaluation = { fromNone: new Map(), retriesDue: [] };
  const add = (next: "scheduled" | "skipped" | "upstream_failed" | "removed", ti: TiStateRow) => {
    state.set(ti.task_id, next);
    const ids = result.fromNone.get(next) ?? [];
    ids.push(ti.id);
    result.fromNone.set(next, ids);
  };

  // A task the DAG no longer has will never run (Airflow's "removed").
  const taskIds = new Set(dag.tasks.map((t) => t.taskId));
  const tasksById = new Map(dag.tasks.map((t) => [t.taskId, t]));
  for (const ti of tis) if (ti.state === null && !taskIds.has(ti.task_id)) add("removed", ti);

  // Topological order lets a skip or upstream_failed cascade to the end of the DAG in one pass.
  for (const task of dag.tasks) {
    const ti = byTask.get(task.taskId);
    if (!ti) continue;
    // A sensor's reschedule comes due like a retry (reschedules do not use up retries).
    if ((ti.state === "up_for_retry" || ti.state === "up_for_reschedule") && ti.next_try_at !== null && ti.next_try_at <= now) {
      result.retriesDue.push(ti.id);
      continue;
    }
    if (ti.state !== null) continue;
    const counts = countUpstream(task.upstream.map((u) => state.get(u) ?? null));
    if (task.triggerRule === "all_done_setup_success") Object.assign(counts, setupUpstream(task, tasksById, state));
    const decision = evaluateTriggerRule(task.triggerRule, counts);
    if (decision.kind === "wait") continue;
    // depends_on_past holds a task back from running; a rule that can never pass still decides.
    if (decision.kind === "run" && !pastDependencyMet(task, previousRun)) continue;
    add(decision.kind === "run" ? "scheduled" : decision.state, ti);
  }

  const allDone = tis.every((ti) => TERMINAL_TASK_STATES.includes(state.get(ti.task_id) as TaskState));
  if (allDone) {
    // Leaves decide, except teardowns (their work tasks count instead): a failing teardown does not fail the run.
    const leaves = runStateTasks(dag);
    const leafFailed = leaves.some((id) => ["failed", "upstream_failed"].includes(state.get(id) ?? ""));
    result.runState = leafFailed ? "failed" : "success";
  }
  return result;
}

/** Airflow's default weight rule (downstream): a task's weight plus that of everything after it. */
export function downstreamWeights(dag: SerializedDag): Map<string, number> {
  const tasks = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const descendants = new Map<string, Set<string>>();
  for (const task of [...dag.tasks].reverse()) {
    const set = new Set<string>();
    for (const d of task.downstream) {
      set.add(d);
      for (const dd of descendants.get(d) ?? []) set.add(dd);
    }
    descendants.set(task.taskId, set);
  }
  const weights = new Map<string, number>();
  for (const task of dag.tasks) {
    let total = task.priorityWeight;
    for (const d of descendants.get(task.taskId) ?? []) total += tasks.get(d)?.priorityWeight ?? 0;
    weights.set(task.taskId, total);
  }
  return weights;
}
