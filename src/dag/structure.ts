/**
 * The structure API: branching, short-circuit, sensors, setup/teardown tasks and task groups.
 *
 *     dag("etl", {}, () => {
 *       const choose = branch("choose", (ctx) => (ctx.params.full ? "full" : "delta"));
 *       choose.then([task("full", full), task("delta", delta)]);
 *       const wait = sensor("wait_for_file", () => fs.existsSync("/data/in.csv"), { pokeInterval: "30s" });
 *       group("load", () => { task("a", a).then(task("b", b)); }).after(wait);
 *     });
 */
import { DagDefinitionError } from "../errors.js";
import { parseDuration } from "../util/duration.js";
import { taskLabel } from "./validate.js";
import { addOperatorTask, buildGroup, pendingTaskLabel } from "./builder.js";
import type {
  Dependable,
  SensorFunction,
  SensorOptions,
  SerializedSensor,
  TaskContext,
  TaskFunction,
  TaskGroupRef,
  TaskOptions,
  TaskRef,
} from "./types.js";

/** What a branch function returns: the id(s) of the direct downstream tasks (or groups) to run; null runs none. */
export type BranchResult = string | readonly string[] | null | undefined;
export type BranchFunction = (context: TaskContext) => BranchResult | Promise<BranchResult>;

/**
 * Declares a branch task: its function returns the id (or ids) of the direct downstream tasks to run
 * (a group id stands for the group's tasks directly downstream); the other direct downstream tasks are
 * skipped when the branch succeeds, and the skip cascades through all_success. Use the trigger rule
 * none_failed_min_one_success on a task that joins the branches again.
 */
export function branch(id: string, fn: BranchFunction | string, options?: TaskOptions): TaskRef {
  if (typeof fn === "string") {
    // A bash branch: the last line of the command's standard output names the chosen tasks.
    if (fn.trim() === "") throw new DagDefinitionError(`${where(id)}: branch() needs a function or a non-empty bash command`);
    return addOperatorTask(id, "bash", { command: fn }, options, { operator: "branch" });
  }
  requireFunction(id, fn, "branch");
  return addOperatorTask(id, "function", { fn: fn as TaskFunction }, options, { operator: "branch" });
}

export interface ShortCircuitOptions extends TaskOptions {
  /**
   * On a falsy result, skip every task downstream (true), or only the direct downstream tasks and let
   * their trigger rules decide further down (false). Default true.
   */
  ignoreDownstreamTriggerRules?: boolean;
}

/** Declares a short-circuit task: a falsy return value skips what is downstream of it; truthy continues. */
export function shortCircuit(id: string, fn: TaskFunction, options: ShortCircuitOptions = {}): TaskRef {
  requireFunction(id, fn, "shortCircuit");
  const { ignoreDownstreamTriggerRules = true, ...taskOptions } = options;
  if (typeof ignoreDownstreamTriggerRules !== "boolean") {
    throw new DagDefinitionError(`${where(id)}: option ignoreDownstreamTriggerRules must be true or false, got ${String(ignoreDownstreamTriggerRules)}`);
  }
  return addOperatorTask(id, "function", { fn }, taskOptions, { operator: "shortCircuit", ignoreDownstreamTriggerRules });
}

const SENSOR_KEYS = ["mode", "pokeInterval", "timeout", "softFail", "exponentialBackoff", "maxWait"] as const;

/**
 * Declares a sensor: `check` (a function returning true/false or `{ done, value }`, or a bash command
 * that exits 0 when done) is called every pokeInterval until it is done or `timeout` passes. The value
 * of `{ done: true, value }` is the sensor's XCom return value.
 */
export function sensor(id: string, check: SensorFunction | string, options: SensorOptions = {}): TaskRef {
  const isBash = typeof check === "string";
  if (isBash ? check.trim() === "" : typeof check !== "function") {
    throw new DagDefinitionError(`${where(id)}: sensor() needs a function or a non-empty bash command as its second argument`);
  }
  const sensorOptions: Record<string, unknown> = {};
  const taskOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    if ((SENSOR_KEYS as readonly string[]).includes(key)) sensorOptions[key] = value;
    else taskOptions[key] = value;
  }
  serializeSensor(sensorOptions as SensorOptions, where(id)); // validates
  return addOperatorTask(
    id,
    isBash ? "bash" : "function",
    isBash ? { command: check } : { fn: check as TaskFunction },
    taskOptions as TaskOptions,
    { operator: "sensor", sensorOptions: Object.freeze({ ...sensorOptions }) as SensorOptions },
  );
}

/** Sensor defaults, as in Airflow's BaseSensorOperator. */
export const SENSOR_DEFAULTS = Object.freeze({ mode: "poke", pokeIntervalMs: 60_000, timeoutMs: 7 * 24 * 3_600_000 });

/** Sensor settings with defaults applied; throws DagDefinitionError (prefixed by `label`) on bad values. */
export function serializeSensor(options: SensorOptions, label: string): SerializedSensor {
  const { mode = "poke", pokeInterval, timeout, softFail = false, exponentialBackoff = false, maxWait } = options;
  if (mode !== "poke" && mode !== "reschedule") {
    throw new DagDefinitionError(`${label}: option mode must be "poke" or "reschedule", got ${JSON.stringify(mode)}`);
  }
  for (const [name, value] of [["softFail", softFail], ["exponentialBackoff", exponentialBackoff]] as const) {
    if (typeof value !== "boolean") throw new DagDefinitionError(`${label}: option ${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  const pokeIntervalMs = pokeInterval === undefined ? SENSOR_DEFAULTS.pokeIntervalMs : parseDuration(pokeInterval, `${label}: option pokeInterval`);
  const timeoutMs = timeout === undefined ? SENSOR_DEFAULTS.timeoutMs : parseDuration(timeout, `${label}: option timeout`);
  if (pokeIntervalMs <= 0) throw new DagDefinitionError(`${label}: option pokeInterval must be greater than 0`);
  return {
    mode,
    pokeIntervalMs,
    timeoutMs,
    softFail,
    exponentialBackoff,
    maxWaitMs: maxWait === undefined ? null : parseDuration(maxWait, `${label}: option maxWait`),
  };
}

/** Declares a setup task (a function, or a bash command): it prepares what the work between it and its teardown uses. */
export function setup(id: string, body: TaskFunction | string, options: TaskOptions = {}): TaskRef {
  return bodyTask(id, body, { ...options, isSetup: true }, "setup");
}

export interface TeardownOptions extends TaskOptions {
  /** Setup tasks this teardown cleans up after (each becomes its upstream). Default: none. */
  setups?: TaskRef | readonly TaskRef[];
}

/**
 * Declares a teardown task: it runs once the tasks before it are done whatever their state, as long
 * as one of its setup tasks succeeded (trigger rule all_done_setup_success); its failure does not fail
 * the run when the other leaves succeeded.
 */
export function teardown(id: string, body: TaskFunction | string, options: TeardownOptions = {}): TaskRef {
  const { setups, ...taskOptions } = options;
  const ref = bodyTask(id, body, { ...taskOptions, isTeardown: true }, "teardown");
  if (setups !== undefined) {
    const list = (Array.isArray(setups) ? setups : [setups]) as TaskRef[];
    for (const s of list) {
      if (s?.options?.isSetup !== true) {
        throw new DagDefinitionError(`${taskLabel(ref.dagId, ref.taskId)}: option setups must list setup tasks (from setup()), got ${s?.taskId ?? String(s)}`);
      }
    }
    ref.after(list);
  }
  return ref;
}

export interface GroupOptions {
  /** Task options for the group's tasks; a task's own options win, an inner group's over an outer one's. Default {}. */
  defaults?: TaskOptions;
  /** Text the UI shows for the group. Default: none. */
  tooltip?: string;
}

/**
 * Declares a task group: tasks declared in `build` get ids `<group>.<task>` (nested: `g.sub.task`).
 * The group can be used in then/after/chain like a task: dependencies go to its roots and leave from
 * its leaves.
 */
export function group(id: string, build: () => void, options?: GroupOptions): TaskGroupRef;
export function group(id: string, options: GroupOptions, build: () => void): TaskGroupRef;
export function group(id: string, a: (() => void) | GroupOptions, b?: (() => void) | GroupOptions): TaskGroupRef {
  const build = typeof a === "function" ? a : b;
  const options = (typeof a === "function" ? b : a) ?? {};
  if (typeof build !== "function") throw new DagDefinitionError(`group '${id}': group() needs a build function that declares the group's tasks`);
  if (typeof options !== "object" || options === null) throw new DagDefinitionError(`group '${id}': options must be an object`);
  const { defaults = {}, tooltip, ...rest } = options as GroupOptions;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new DagDefinitionError(`group '${id}': unknown option '${unknown[0]}'; valid group options: defaults, tooltip`);
  return buildGroup(id, defaults, tooltip, build);
}

export type { Dependable, TaskGroupRef };

function bodyTask(id: string, body: TaskFunction | string, options: TaskOptions, what: string): TaskRef {
  if (typeof body === "string") {
    if (body.trim() === "") throw new DagDefinitionError(`${where(id)}: ${what}() needs a function or a non-empty bash command`);
    return addOperatorTask(id, "bash", { command: body }, options, {});
  }
  requireFunction(id, body, what);
  return addOperatorTask(id, "function", { fn: body }, options, {});
}

function requireFunction(id: string, fn: unknown, what: string): void {
  if (typeof fn !== "function") throw new DagDefinitionError(`${where(id)}: ${what}() needs a function as its second argument`);
}

/** "DAG 'etl', task 'id'" for messages about a task being declared. */
function where(id: string): string {
  return pendingTaskLabel(id);
}
