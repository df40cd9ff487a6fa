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
  /** -1 for an unmapped task or a mapped task's placeholder; 0.. for a mapped task's instances. Default -1. */
  map_index?: number;
  state: TaskState | null;
  next_try_at: number | null;
}

/** A mapped task whose placeholder may now be expanded over its source's return value. */
export interface Expansion {
  tiId: number;
  taskId: string;
  /** The upstream task whose return value is the list. */
  source: string;
  /** The source is itself mapped: the list is its instances' return values. */
  sourceMapped: boolean;
}

export interface RunEvaluation {
  /** New state → ids of task instances to move there (from none, or from up_for_retry for "scheduled"). */
  fromNone: Map<"scheduled" | "skipped" | "upstream_failed" | "removed", number[]>;
  retriesDue: number[];
  /** Mapped tasks ready to expand (see scheduler/mapping.ts); absent when there are none. */
  toExpand?: Expansion[];
  /** Set when every task has finished. */
  runState?: Extract<DagRunState, "success" | "failed">;
}

/**
 * @param previousRun task states of the DAG's previous run, for tasks with dependsOnPast; null when
 *   this is the first run; undefined when not loaded (the DAG has no such task).
 */
export function evaluateRun(dag: SerializedDag, tis: TiStateRow[], now: number, previousRun?: PreviousRunStates): RunEvaluation {
  // A task has several instances once mapped; trigger rules count over all of them.
  const byTask = new Map<string, TiStateRow[]>();
  for (const ti of tis) {
    const list = byTask.get(ti.task_id) ?? [];
    list.push(ti);
    byTask.set(ti.task_id, list);
  }
  const state = new Map<number, TaskState | null>(tis.map((ti) => [ti.id, ti.state]));
  const statesOf = (taskId: string) => (byTask.get(taskId) ?? []).map((ti) => state.get(ti.id) ?? null);
  /** One state per task (a mapped task's is "success" only when every instance succeeded), for setup checks. */
  const taskStates = () =>
    new Map([...byTask.keys()].map((id) => [id, statesOf(id).find((s) => s !== "success") ?? ("success" as TaskState)]));
  const result: RunEvaluation = { fromNone: new Map(), retriesDue: [] };
  const add = (next: "scheduled" | "skipped" | "upstream_failed" | "removed", ti: TiStateRow) => {
    state.set(ti.id, next);
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
    for (const ti of byTask.get(task.taskId) ?? []) {
      // A sensor's reschedule comes due like a retry (reschedules do not use up retries).
      if ((ti.state === "up_for_retry" || ti.state === "up_for_reschedule") && ti.next_try_at !== null && ti.next_try_at <= now) {
        result.retriesDue.push(ti.id);
        continue;
      }
      if (ti.state !== null) continue;
      const counts = countUpstream(task.upstream.flatMap((u) => statesOf(u)));
      if (task.triggerRule === "all_done_setup_success") Object.assign(counts, setupUpstream(task, tasksById, taskStates()));
      const decision = evaluateTriggerRule(task.triggerRule, counts);
      if (decision.kind === "wait") continue;
      // depends_on_past holds a task back from running; a rule that can never pass still decides.
      if (decision.kind === "run" && !pastDependencyMet(task, previousRun)) continue;
      if (decision.kind === "run" && task.expandFrom !== undefined && (ti.map_index ?? -1) < 0) {
        // Its instances are created from the source's list; until then downstream tasks wait on it.
        const sourceMapped = tasksById.get(task.expandFrom)?.expandFrom !== undefined;
        (result.toExpand ??= []).push({ tiId: ti.id, taskId: task.taskId, source: task.expandFrom, sourceMapped });
        continue;
      }
      add(decision.kind === "run" ? "scheduled" : decision.state, ti);
    }
  }

  const allDone = tis.every((ti) => TERMINAL_TASK_STATES.includes(state.get(ti.id) as TaskState));
  if (allDone) {
    // Leaves decide, except teardowns (their work tasks count instead): a failing teardown does not fail the run.
    const leaves = runStateTasks(dag);
    const leafFailed = leaves.some((id) => statesOf(id).some((s) => s === "failed" || s === "upstream_failed"));
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
