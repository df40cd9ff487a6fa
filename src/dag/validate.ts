/**
 * Checks on DAG definitions. Each failure is a DagDefinitionError whose message starts with the DAG
 * (and task) it concerns; the DAG processor adds the file.
 */

import { DagDefinitionError } from "../errors.js";
import { assetUriProblem, isAssetExpression } from "./assets.js";
import { pathEntryProblem } from "../executor/task-environment.js";
import { checkScheduleFit, resolveScheduleOption } from "./schedule-option.js";
import { toInstant } from "../util/dates.js";
import { parseDuration } from "../util/duration.js";
import { TRIGGER_RULES, WEIGHT_RULES, type DagOptions, type Duration, type TaskOptions, type TaskRef } from "./types.js";

/** Longest DAG or task id, as in Airflow. */
export const MAX_ID_LENGTH = 250;
const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
/** Queue names travel in broker keys and queue names (BullMQ, RabbitMQ): a safe alphabet. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,200}$/;

/** "DAG 'etl'", the start of every message about a DAG. */
export function dagLabel(dagId: string): string {
  return `DAG '${dagId}'`;
}

/** "DAG 'etl', task 'load'", the start of every message about a task. */
export function taskLabel(dagId: string, taskId: string): string {
  return `${dagLabel(dagId)}, task '${taskId}'`;
}

export function validateDagId(dagId: unknown): asserts dagId is string {
  const problem = idProblem(dagId);
  if (problem !== null) throw new DagDefinitionError(`DAG id ${show(dagId)} is invalid: ${problem}`);
}

export function validateTaskId(dagId: string, taskId: unknown): asserts taskId is string {
  const problem = idProblem(taskId);
  if (problem !== null) throw new DagDefinitionError(`${dagLabel(dagId)}: task id ${show(taskId)} is invalid: ${problem}`);
}

function idProblem(id: unknown): string | null {
  if (typeof id !== "string") return "an id must be a string";
  if (id.length === 0) return "an id must not be empty";
  if (id.length > MAX_ID_LENGTH) return `an id must be at most ${MAX_ID_LENGTH} characters, this one has ${id.length}`;
  if (!ID_PATTERN.test(id)) return "an id may only contain letters, digits, '_', '-' and '.'";
  return null;
}

export function checkUniqueTaskId(dagId: string, taskId: string, tasks: ReadonlyMap<string, TaskRef>): void {
  if (tasks.has(taskId)) {
    throw new DagDefinitionError(`${taskLabel(dagId, taskId)}: a task with this id is already defined in the DAG`);
  }
}

export function checkUniqueDagId(dagId: string, registered: boolean): void {
  if (registered) {
    throw new DagDefinitionError(`${dagLabel(dagId)}: a DAG with id '${dagId}' is already defined; DAG ids must be unique`);
  }
}

/** The error for a dependency between tasks of two DAGs: dependencies must stay within one DAG. */
export function crossDagDependencyError(upstream: TaskRef, downstream: TaskRef): DagDefinitionError {
  const other = upstream.dagId === downstream.dagId ? "another DAG with the same id" : `another DAG ('${upstream.dagId}')`;
  return new DagDefinitionError(
    `${taskLabel(downstream.dagId, downstream.taskId)}: cannot depend on task '${upstream.taskId}' of ${other}; ` +
      "dependencies must stay within one DAG",
  );
}

/**
 * Throws if the tasks' dependencies form a cycle, naming the tasks on it in dependency order,
 * e.g. "cycle: a -> b -> c -> a".
 */
export function checkAcyclic(dagId: string, tasks: ReadonlyMap<string, TaskRef>): void {
  const cycle = findCycle(tasks.values());
  if (cycle !== null) {
    throw new DagDefinitionError(
      `${taskLabel(dagId, cycle[0]!)}: dependency cycle: ${describeCycle(cycle)}; a DAG's dependencies must not loop`,
    );
  }
}

/** "a -> b -> a"; a very long cycle keeps its head and tail so the message stays readable. */
function describeCycle(ids: string[]): string {
  const head = 20;
  const tail = 5;
  if (ids.length <= head + tail + 1) return ids.join(" -> ");
  return [...ids.slice(0, head), `... (${ids.length - head - tail} more)`, ...ids.slice(-tail)].join(" -> ");
}

/**
 * Depth-first search along downstream edges, with an explicit stack so long chains cannot overflow
 * the call stack. Returns the task ids of the first cycle found, the first id repeated last.
 */
function findCycle(tasks: Iterable<TaskRef>): string[] | null {
  const done = new Set<TaskRef>();
  const onPath = new Set<TaskRef>();
  // The current path, each task with an iterator over the downstream tasks it has yet to visit.
  const path: Array<{ task: TaskRef; next: Iterator<TaskRef> }> = [];

  const enter = (task: TaskRef) => {
    path.push({ task, next: task.downstream.values() });
    onPath.add(task);
  };

  for (const root of tasks) {
    if (done.has(root)) continue;
    enter(root);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const step = top.next.next();
      if (step.done) {
        path.pop();
        onPath.delete(top.task);
        done.add(top.task);
      } else if (onPath.has(step.value)) {
        const from = path.findIndex((entry) => entry.task === step.value);
        return [...path.slice(from).map((entry) => entry.task.taskId), step.value.taskId];
      } else if (!done.has(step.value)) {
        enter(step.value);
      }
    }
  }
  return null;
}

type OptionCheck = (value: unknown, where: string) => void;

const TASK_OPTION_CHECKS: Record<keyof TaskOptions, OptionCheck> = {
  retries: nonNegativeInteger,
  retryDelay: duration,
  executionTimeout: (value, where) => {
    if (value === null) return;
    if (duration(value, where) === 0) {
      throw new DagDefinitionError(`${where} must be greater than 0 (use null for no limit), got ${show(value)}`);
    }
  },
  triggerRule: (value, where) => {
    if (!(TRIGGER_RULES as readonly unknown[]).includes(value)) {
      throw new DagDefinitionError(`${where}: unknown trigger rule ${show(value)}; valid trigger rules: ${TRIGGER_RULES.join(", ")}`);
    }
  },
  queue: queueName,
  pool: nonEmptyString,
  poolSlots: (value, where) => {
    if (!Number.isSafeInteger(value) || (value as number) < 1) fail(where, "an integer >= 1", value);
  },
  priorityWeight: (value, where) => {
    if (!Number.isSafeInteger(value)) fail(where, "an integer", value);
  },
  env: (value, where) => {
    if (!isPlainObject(value)) fail(where, "an object of environment variable names to string values", value);
    for (const [name, variable] of Object.entries(value)) {
      if (typeof variable !== "string") fail(`${where} '${name}'`, "a string", variable);
    }
  },
  path: (value, where) => {
    if (!Array.isArray(value)) fail(where, 'an array of folders such as ["/opt/spark/bin"]', value);
    (value as unknown[]).forEach((entry, index) => {
      const problem = pathEntryProblem(entry);
      if (problem !== null) throw new DagDefinitionError(`${where} item ${index} ${problem}, got ${show(entry)}`);
    });
  },
  preamble: (value, where) => {
    if (typeof value !== "string") fail(where, 'a string (a bash script such as "source /etc/spark/conf/spark-env.sh")', value);
  },
  outlets: (value, where) => {
    if (!Array.isArray(value)) fail(where, "an array of assets such as [asset(\"s3://bucket/key\")]", value);
    for (const item of value as unknown[]) {
      if (!isAssetExpression(item) || item.kind !== "asset") fail(`${where} item`, 'an asset from asset("uri")', item);
      const problem = assetUriProblem(item.uri);
      if (problem !== null) throw new DagDefinitionError(`${where}: ${problem}`);
    }
  },
  isSetup: boolean,
  isTeardown: boolean,
  onExecute: callback,
  onSuccess: callback,
  onFailure: callback,
  onRetry: callback,
  onSkipped: callback,
  retryExponentialBackoff: boolean,
  maxRetryDelay: (value, where) => {
    if (value === null) return;
    if (duration(value, where) === 0) {
      throw new DagDefinitionError(`${where} must be greater than 0 (use null for no limit), got ${show(value)}`);
    }
  },
  dependsOnPast: boolean,
  waitForDownstream: boolean,
  weightRule: (value, where) => {
    if (!(WEIGHT_RULES as readonly unknown[]).includes(value)) {
      throw new DagDefinitionError(`${where}: unknown weight rule ${show(value)}; valid weight rules: ${WEIGHT_RULES.join(", ")}`);
    }
  },
  xcomPush: boolean,
};

/**
 * Checks a task's options, or a DAG's `defaults`.
 * @param where "DAG 'etl', task 'load'" or "DAG 'etl', defaults"; starts every message.
 */
export function validateTaskOptions(where: string, options: unknown): void {
  if (options === undefined) return;
  checkOptions(where, options, TASK_OPTION_CHECKS, "task options");
  const { isSetup, isTeardown } = options as TaskOptions;
  if (isSetup === true && isTeardown === true) {
    throw new DagDefinitionError(`${where}: a task cannot be both a setup and a teardown task (isSetup and isTeardown are both true)`);
  }
}

const DAG_OPTION_CHECKS: Record<keyof DagOptions, OptionCheck> = {
  // schedule, timetable, timezone, start and end depend on each other; validateDagOptions checks them together.
  schedule: () => {},
  timezone: () => {},
  start: () => {},
  end: () => {},
  catchup: (value, where) => {
    if (typeof value !== "boolean") fail(where, "true or false", value);
  },
  tags: (value, where) => {
    if (!Array.isArray(value) || value.some((tag) => typeof tag !== "string")) fail(where, "an array of strings", value);
  },
  description: (value, where) => {
    if (typeof value !== "string") fail(where, "a string", value);
  },
  maxActiveRuns: (value, where) => {
    if (!Number.isSafeInteger(value) || (value as number) < 1) fail(where, "an integer >= 1", value);
  },
  params: (value, where) => {
    if (!isPlainObject(value)) fail(where, "a plain object", value);
    // Params are stored in the DB as JSON.
    try {
      JSON.stringify(value);
    } catch (error) {
      throw new DagDefinitionError(`${where} must be JSON-serializable: ${(error as Error).message}`);
    }
  },
  defaults: (value, where) => {
    if (!isPlainObject(value)) fail(where, "an object of task options", value);
    checkOptions(where, value, TASK_OPTION_CHECKS, "task options");
  },
  timetable: () => {},
  dagrunTimeout: (value, where) => {
    if (value === null) return;
    if (duration(value, where) === 0) fail(where, "a duration greater than 0 (or null for no limit)", value);
  },
  onSuccess: callback,
  onFailure: callback,
  maxActiveTasks: (value, where) => {
    if (!Number.isSafeInteger(value) || (value as number) < 1) fail(where, "an integer >= 1", value);
  },
};

/** Checks a DAG's options: types, unknown keys, schedule and timezone, start and end. */
export function validateDagOptions(dagId: string, options: unknown): void {
  const where = dagLabel(dagId);
  checkOptions(where, options, DAG_OPTION_CHECKS, "DAG options");
  const { schedule = null, timezone = "UTC", start, end, timetable, maxActiveRuns } = options as DagOptions;

  if (typeof timezone !== "string") fail(`${where}: option timezone`, "an IANA timezone name", timezone);
  const { spec } = resolveScheduleOption(where, schedule, timezone);
  checkScheduleFit(where, spec, timetable, maxActiveRuns);

  const startAt = start === undefined ? null : toInstant(start, timezone, `${where}: option start`);
  const endAt = end === undefined ? null : toInstant(end, timezone, `${where}: option end`);
  // Asset schedules run on updates, not on the clock, so they need no start.
  if (spec.kind !== "none" && spec.kind !== "assets" && startAt === null) {
    throw new DagDefinitionError(`${where}: option start is required when a schedule is set (schedule ${show(schedule)})`);
  }
  if (startAt !== null && endAt !== null && startAt.getTime() > endAt.getTime()) {
    throw new DagDefinitionError(
      `${where}: option start (${startAt.toISOString()}) is after option end (${endAt.toISOString()})`,
    );
  }
}

/** Checks that `options` is a plain object whose keys are all known and whose defined values pass their checks. */
function checkOptions(where: string, options: unknown, checks: Record<string, OptionCheck>, kind: string): void {
  if (!isPlainObject(options)) fail(`${where}: ${kind}`, "an object", options);
  for (const [key, value] of Object.entries(options)) {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    if (check === undefined) {
      throw new DagDefinitionError(`${where}: unknown option '${key}'; valid ${kind}: ${Object.keys(checks).join(", ")}`);
    }
    if (value !== undefined) check(value, `${where}: option ${key}`);
  }
}

function boolean(value: unknown, where: string): void {
  if (typeof value !== "boolean") fail(where, "true or false", value);
}

function callback(value: unknown, where: string): void {
  if (typeof value !== "function") fail(where, "a function", value);
}

function nonNegativeInteger(value: unknown, where: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) fail(where, "a non-negative integer", value);
}

function nonEmptyString(value: unknown, where: string): void {
  if (typeof value !== "string" || value.trim() === "") fail(where, "a non-empty string", value);
}

function queueName(value: unknown, where: string): void {
  if (typeof value !== "string" || !QUEUE_NAME_PATTERN.test(value)) fail(where, "a queue name of 1 to 200 letters, digits, '_', '.' or '-'", value);
}

function duration(value: unknown, where: string): number {
  return parseDuration(value as Duration, where);
}

function fail(where: string, expected: string, value: unknown): never {
  throw new DagDefinitionError(`${where} must be ${expected}, got ${show(value)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A short rendering of a bad value for messages. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  if (typeof value === "object") return `an object (${Object.getPrototypeOf(value)?.constructor?.name ?? "no prototype"})`;
  return `a ${typeof value}`;
}
