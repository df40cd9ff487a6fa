/**
 * Effective priority weights of a DAG's tasks, by each task's weight rule (Airflow's weight_rule):
 * downstream (default) adds the weights of every task after it, upstream of every task before it,
 * absolute uses the task's own weight. Computed when a run starts and stored on its task instances.
 */
import type { SerializedDag, SerializedTask } from "../dag/types.js";

export function priorityWeights(dag: SerializedDag): Map<string, number> {
  const tasks = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const descendants = closure([...dag.tasks].reverse(), (t) => t.downstream);
  const ancestors = closure(dag.tasks, (t) => t.upstream);
  const weights = new Map<string, number>();
  for (const task of dag.tasks) {
    const rule = task.weightRule ?? "downstream";
    const relatives = rule === "absolute" ? [] : [...((rule === "upstream" ? ancestors : descendants).get(task.taskId) ?? [])];
    weights.set(task.taskId, relatives.reduce((sum, id) => sum + (tasks.get(id)?.priorityWeight ?? 0), task.priorityWeight));
  }
  return weights;
}

/** For each task, every task reachable through `next`; `ordered` must list a task after the ones `next` leads to. */
function closure(ordered: SerializedTask[], next: (t: SerializedTask) => string[]): Map<string, Set<string>> {
  const reach = new Map<string, Set<string>>();
  for (const task of ordered) {
    const set = new Set<string>();
    for (const id of next(task)) {
      set.add(id);
      for (const further of reach.get(id) ?? []) set.add(further);
    }
    reach.set(task.taskId, set);
  }
  return reach;
}
