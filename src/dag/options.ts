/** Where a task's effective option comes from: its own options, then its groups' defaults (inner first), then the DAG's. */
import type { Dag, TaskOptions, TaskRef } from "./types.js";

/**
 * The task's option `key` as set by the task, an enclosing group's `defaults` or the DAG's `defaults`,
 * or undefined when none sets it. An explicit null is a value, not a gap.
 */
export function declaredOption<K extends keyof TaskOptions>(dag: Pick<Dag, "options">, task: TaskRef, key: K): TaskOptions[K] | undefined {
  if (task.options[key] !== undefined) return task.options[key];
  for (let group = task.group; group !== undefined; group = group.parent) {
    if (group.defaults[key] !== undefined) return group.defaults[key];
  }
  return dag.options.defaults?.[key];
}
