/** Turns a built DAG into the `SerializedDag` stored in the DB, with every default applied. */

import { toInstant } from "../util/dates.js";
import { parseDuration } from "../util/duration.js";
import { dagGroups } from "./builder.js";
import { declaredOption } from "./options.js";
import { resolveScheduleOption } from "./schedule-option.js";
import { serializeSensor } from "./structure.js";
import { DAG_CALLBACKS, TASK_CALLBACKS, type Dag, type SerializedDag, type SerializedTask, type TaskOptions, type TaskRef } from "./types.js";
import { dagLabel, taskLabel } from "./validate.js";

/** Task options a task gets when neither it nor its DAG's `defaults` set them. */
export const TASK_DEFAULTS = Object.freeze({
  retries: 0,
  retryDelay: 300_000,
  retryExponentialBackoff: false,
  maxRetryDelay: null,
  dependsOnPast: false,
  waitForDownstream: false,
  executionTimeout: null,
  triggerRule: "all_success",
  queue: "default",
  pool: "default_pool",
  poolSlots: 1,
  priorityWeight: 1,
  weightRule: "downstream",
  env: Object.freeze({}),
  outlets: Object.freeze([]),
  xcomPush: true,
}) satisfies Readonly<
  Required<
    Pick<TaskOptions, "retries" | "retryDelay" | "executionTimeout" | "triggerRule" | "queue" | "pool" | "poolSlots" | "priorityWeight" | "env" | "outlets" | "xcomPush">
  >
>;

/** The options that have a built-in default (callbacks and setup/teardown flags have none). */
type DefaultedOption = keyof typeof TASK_DEFAULTS;

/** DAG options a DAG gets when it does not set them. */
export const DAG_DEFAULTS = Object.freeze({
  timezone: "UTC",
  catchup: false,
  maxActiveRuns: 16,
  maxActiveTasks: 16,
});

/** Serializes a DAG that passed validation; `fileloc` is its DAG file, relative to the bundle root. */
export function serializeDag(dag: Dag, fileloc: string): SerializedDag {
  const { options } = dag;
  const timezone = options.timezone ?? DAG_DEFAULTS.timezone;
  const where = dagLabel(dag.dagId);
  const order = definitionOrder(dag.tasks);
  const schedule = resolveScheduleOption(where, options.schedule, timezone);
  const dagrunTimeout = options.dagrunTimeout ?? null;
  return {
    dagId: dag.dagId,
    fileloc,
    schedule: schedule.label,
    scheduleSpec: schedule.spec,
    timetable: options.timetable ?? "trigger",
    dagrunTimeoutMs: dagrunTimeout === null ? null : parseDuration(dagrunTimeout, `${where}: option dagrunTimeout`),
    start: options.start === undefined ? null : toInstant(options.start, timezone, `${where}: option start`).toISOString(),
    end: options.end === undefined ? null : toInstant(options.end, timezone, `${where}: option end`).toISOString(),
    timezone,
    catchup: options.catchup ?? DAG_DEFAULTS.catchup,
    tags: [...(options.tags ?? [])],
    description: options.description ?? null,
    maxActiveRuns: options.maxActiveRuns ?? DAG_DEFAULTS.maxActiveRuns,
    maxActiveTasks: options.maxActiveTasks ?? DAG_DEFAULTS.maxActiveTasks,
    // A JSON round trip: a deep copy that holds exactly what the DB will store.
    params: JSON.parse(JSON.stringify(options.params ?? {})) as Record<string, unknown>,
    ...(dag.paramSchemas ? { paramSchemas: JSON.parse(JSON.stringify(dag.paramSchemas)) as Record<string, Record<string, unknown>> } : {}),
    tasks: topologicalOrder(dag.tasks).map((task) => serializeTask(dag, task, order)),
    ...structureOfDag(dag),
  };
}

/** Groups and DAG callbacks; only present when the DAG has them, so plain DAGs serialize as before. */
function structureOfDag(dag: Dag): Pick<SerializedDag, "groups" | "callbacks"> {
  const groups = dagGroups(dag).map((g) => ({
    groupId: g.groupId,
    parent: g.parent?.groupId ?? null,
    ...((g as { tooltip?: string }).tooltip !== undefined ? { tooltip: (g as { tooltip?: string }).tooltip } : {}),
  }));
  const callbacks = DAG_CALLBACKS.filter((name) => dag.options[name] !== undefined);
  return { ...(groups.length > 0 ? { groups } : {}), ...(callbacks.length > 0 ? { callbacks } : {}) };
}

/** The task's PATH additions and preamble; only when set, so tasks without them serialize as before. */
function environmentOfTask(dag: Dag, task: TaskRef): Pick<SerializedTask, "path" | "preamble"> {
  const path = declaredOption(dag, task, "path") ?? [];
  const preamble = declaredOption(dag, task, "preamble") ?? "";
  return { ...(path.length > 0 ? { path: [...path] } : {}), ...(preamble.trim() !== "" ? { preamble } : {}) };
}

/** Operator, sensor, setup/teardown, callbacks and group of a task; only the fields that apply. */
function structureOfTask(dag: Dag, task: TaskRef): Partial<SerializedTask> {
  const out: Partial<SerializedTask> = {};
  if (task.operator !== undefined) out.operator = task.operator;
  if (task.operator === "shortCircuit") out.ignoreDownstreamTriggerRules = task.ignoreDownstreamTriggerRules ?? true;
  if (task.sensorOptions !== undefined) out.sensor = serializeSensor(task.sensorOptions, taskLabel(dag.dagId, task.taskId));
  if (declaredOption(dag, task, "isSetup") === true) out.isSetup = true;
  if (declaredOption(dag, task, "isTeardown") === true) out.isTeardown = true;
  const callbacks = TASK_CALLBACKS.filter((name) => declaredOption(dag, task, name) !== undefined);
  if (callbacks.length > 0) out.callbacks = callbacks;
  if (task.group !== undefined) out.group = task.group.groupId;
  return out;
}

function serializeTask(dag: Dag, task: TaskRef, order: ReadonlyMap<TaskRef, number>): SerializedTask {
  // The task's own option wins, then its groups' defaults, then the DAG's defaults, then the built-in
  // default. An explicit null (executionTimeout: null) is a value, not a gap, so only undefined falls through.
  const option = <K extends DefaultedOption>(key: K): Required<TaskOptions>[K] => {
    const declared = declaredOption(dag, task, key);
    return (declared !== undefined ? declared : TASK_DEFAULTS[key]) as Required<TaskOptions>[K];
  };

  const where = taskLabel(dag.dagId, task.taskId);
  const executionTimeout = option("executionTimeout");
  const maxRetryDelay = option("maxRetryDelay");
  const byDefinition = (tasks: ReadonlySet<TaskRef>) =>
    [...tasks].sort((a, b) => order.get(a)! - order.get(b)!).map((t) => t.taskId);

  return {
    taskId: task.taskId,
    kind: task.kind,
    ...(task.kind === "bash" ? { command: task.command } : {}),
    retries: option("retries"),
    retryDelayMs: parseDuration(option("retryDelay"), `${where}: option retryDelay`),
    retryExponentialBackoff: option("retryExponentialBackoff"),
    maxRetryDelayMs: maxRetryDelay === null ? null : parseDuration(maxRetryDelay, `${where}: option maxRetryDelay`),
    // Airflow: wait_for_downstream implies depends_on_past.
    dependsOnPast: option("dependsOnPast") || option("waitForDownstream"),
    waitForDownstream: option("waitForDownstream"),
    executionTimeoutMs:
      executionTimeout === null ? null : parseDuration(executionTimeout, `${where}: option executionTimeout`),
    // A teardown runs after its setup's work whatever happened (Airflow forces this rule on teardowns).
    triggerRule:
      task.options.triggerRule === undefined && declaredOption(dag, task, "isTeardown") === true
        ? "all_done_setup_success"
        : option("triggerRule"),
    queue: option("queue"),
    pool: option("pool"),
    poolSlots: option("poolSlots"),
    priorityWeight: option("priorityWeight"),
    weightRule: option("weightRule"),
    env: { ...option("env") },
    ...environmentOfTask(dag, task),
    ...(task.kind === "bash" ? { xcomPush: option("xcomPush") } : {}),
    ...(task.expandSource ? { expandFrom: task.expandSource.taskId } : {}),
    upstream: byDefinition(task.upstream),
    downstream: byDefinition(task.downstream),
    ...(option("outlets").length > 0 ? { outlets: option("outlets").map((a) => a.uri) } : {}),
    ...structureOfTask(dag, task),
  };
}

/**
 * The tasks ordered so every task comes after its upstream tasks; among tasks ready at the same time,
 * the one defined first comes first, so the order only changes when the DAG does.
 * Assumes the DAG has no cycle (validation rejects those).
 */
export function topologicalOrder(tasks: ReadonlyMap<string, TaskRef>): TaskRef[] {
  const order = definitionOrder(tasks);
  const waitingOn = new Map<TaskRef, number>();
  for (const task of tasks.values()) waitingOn.set(task, task.upstream.size);
  // Ready tasks, latest-defined first, so pop() yields the earliest-defined one.
  const ready = [...tasks.values()].filter((task) => task.upstream.size === 0).reverse();

  const sorted: TaskRef[] = [];
  while (ready.length > 0) {
    const task = ready.pop()!;
    sorted.push(task);
    for (const next of task.downstream) {
      const remaining = waitingOn.get(next)! - 1;
      waitingOn.set(next, remaining);
      if (remaining === 0) insertByDefinition(ready, next, order);
    }
  }
  return sorted;
}

/** Inserts `task` into `ready` (sorted latest-defined first), keeping it sorted. */
function insertByDefinition(ready: TaskRef[], task: TaskRef, order: ReadonlyMap<TaskRef, number>): void {
  const index = order.get(task)!;
  let low = 0;
  let high = ready.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (order.get(ready[middle]!)! > index) low = middle + 1;
    else high = middle;
  }
  ready.splice(low, 0, task);
}

function definitionOrder(tasks: ReadonlyMap<string, TaskRef>): Map<TaskRef, number> {
  return new Map([...tasks.values()].map((task, index) => [task, index]));
}
