/** Types shared by the authoring API, the DAG processor, the scheduler and the runners. */
import type { Asset, AssetExpression } from "./assets.js";
import type { ScheduleSpec, TimetableMeaning } from "../timetable/timetable.js";

/** Every trigger rule Airflow knows; the scheduler evaluates them in `scheduler/trigger-rules.ts`. */
export const TRIGGER_RULES = [
  "all_success",
  "all_failed",
  "all_done",
  "all_done_min_one_success",
  "all_done_setup_success",
  "all_skipped",
  "one_success",
  "one_failed",
  "one_done",
  "none_failed",
  "none_failed_min_one_success",
  "none_skipped",
  "always",
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

/** How a task's effective priority weight is computed from `priorityWeight` (Airflow's weight_rule). */
export const WEIGHT_RULES = ["downstream", "upstream", "absolute"] as const;
export type WeightRule = (typeof WEIGHT_RULES)[number];

/** Duration: milliseconds as a number, or a string such as "30s", "5m", "1h", "500ms", "1d". */
export type Duration = number | string;

/** Options every task accepts. Defaults are applied when the DAG is serialized. */
export interface TaskOptions {
  /** How many times a failed try is tried again. Default 0. */
  retries?: number;
  /** Wait between a failed try and the next one. Default "5m" (Airflow's 300 s). */
  retryDelay?: Duration;
  /**
   * Double the wait after each failed try (retryDelay × 2^(try − 1), plus a deterministic jitter), as
   * Airflow's retry_exponential_backoff. Default false.
   */
  retryExponentialBackoff?: boolean;
  /** Longest wait between tries when `retryExponentialBackoff` is on. Default: no limit. */
  maxRetryDelay?: Duration | null;
  /**
   * Wait until this task's instance in the previous run (by logical date, of any run type) is success
   * or skipped; the first run is never blocked. Default false.
   */
  dependsOnPast?: boolean;
  /** Also wait for the direct downstream tasks of that previous instance; implies dependsOnPast. Default false. */
  waitForDownstream?: boolean;
  /** Longest a single try may run; its whole process tree is killed after. Default: no limit. */
  executionTimeout?: Duration | null;
  /** When the task may run given its upstream states. Default "all_success". */
  triggerRule?: TriggerRule;
  /** Queue the try is sent to (workers subscribe to queues). Default "default". */
  queue?: string;
  /** Pool whose slots the task takes. Default "default_pool". */
  pool?: string;
  /** Slots of the pool one try takes. Default 1. */
  poolSlots?: number;
  /** Higher runs first when slots are scarce. Default 1. */
  priorityWeight?: number;
  /**
   * How the effective weight is computed: "downstream" (own weight plus that of every task after it),
   * "upstream" (plus every task before it) or "absolute" (own weight only). Default "downstream".
   */
  weightRule?: WeightRule;
  /** Environment variables set for the try (bash command or function); bash tasks render them as templates. Default {}. */
  env?: Record<string, string>;
  /**
   * Folders put before PATH for the try (bash command or function), ahead of those of the task's queue
   * and of the deployment (config [task_environment], see docs/task-environment.md). Default [].
   */
  path?: readonly string[];
  /**
   * Bash script run before the try, after the deployment's and the queue's preambles: for a bash task
   * in the same shell as the command; for a function task the variables it leaves are set for the try
   * ("source /etc/spark/conf/spark-env.sh"). A failing preamble fails the try. Default: none.
   */
  preamble?: string;
  /** Assets this task updates: each success records an event for each, which may trigger DAGs scheduled on them. Default []. */
  outlets?: readonly Asset[];
  /** Marks a setup task (see `setup()`): teardowns after it wait for its work. Default false. */
  isSetup?: boolean;
  /** Marks a teardown task (see `teardown()`); a failing teardown does not fail the run. Default false. */
  isTeardown?: boolean;
  /** Called in the runner before the task body runs. Default: none. */
  onExecute?: TaskCallback;
  /** Called in the runner after a try succeeded. Default: none. */
  onSuccess?: TaskCallback;
  /** Called when a try failed with no retry left (also after an execution timeout). Default: none. */
  onFailure?: TaskCallback;
  /** Called when a try failed and a retry follows. Default: none. */
  onRetry?: TaskCallback;
  /** Called when the task skipped itself (SkipTask, bash exit 99, sensor softFail). Default: none. */
  onSkipped?: TaskCallback;
  /** Bash tasks: store the last line of stdout as the task's XCom "return_value" (Airflow's do_xcom_push). Default true. */
  xcomPush?: boolean;
}

/** `ctx.xcom`: values passed between the tasks of a run. */
export interface XComAccess {
  /** Stores `value` (JSON-serializable) under `key` for this task instance; over xcom_max_bytes fails the try. */
  push(key: string, value: unknown): Promise<void>;
  /**
   * A value a task of this run stored: its return value by default. From a mapped task without
   * `mapIndex`: the array of its instances' values, by map index. undefined when there is none.
   */
  pull<T = unknown>(options: { taskId: string; key?: string; mapIndex?: number }): Promise<T | undefined>;
}

/** `ctx.variables`: Aloft Variables (`aloft variables set`). */
export interface VariableAccess {
  /**
   * The variable's value (parsed as JSON with `{ json: true }`); `defaultValue` when it does not
   * exist, or an error when no default is given.
   */
  get<T = string>(key: string, defaultValue?: T, options?: { json?: boolean }): Promise<T>;
}

/** A connection as `ctx.connections.get(id)` returns it. */
export interface ConnectionInfo {
  connId: string;
  connType: string;
  host: string | null;
  schema: string | null;
  login: string | null;
  password: string | null;
  port: number | null;
  extra: Record<string, unknown>;
  description: string | null;
}

/** `ctx.connections`: Aloft Connections (`aloft connections add`). */
export interface ConnectionAccess {
  /** The connection; an error when it does not exist. Its password is masked in the try's log. */
  get(connId: string): Promise<ConnectionInfo>;
}

/** The task callbacks a task may set. */
export const TASK_CALLBACKS = ["onExecute", "onSuccess", "onFailure", "onRetry", "onSkipped"] as const;
export type TaskCallbackName = (typeof TASK_CALLBACKS)[number];

/** What a task callback receives: the task's context, and the error for onFailure/onRetry. */
export interface TaskCallbackContext extends TaskContext {
  /** Why the try failed (onFailure, onRetry). */
  error?: string;
}
export type TaskCallback = (context: TaskCallbackContext) => unknown;

/** The DAG callbacks a DAG may set. */
export const DAG_CALLBACKS = ["onSuccess", "onFailure"] as const;
export type DagCallbackName = (typeof DAG_CALLBACKS)[number];

/** What a DAG callback receives, after the run's final state is stored. */
export interface DagCallbackContext {
  dagId: string;
  runId: string;
  logicalDate: Date;
  /** The run's final state. */
  state: "success" | "failed";
  /** Why the run ended: "success" or "task_failure" (as Airflow). */
  reason: string;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  log: TaskLogger;
}
export type DagCallback = (context: DagCallbackContext) => unknown;

/** What a function task receives. */
export interface TaskContext {
  dagId: string;
  taskId: string;
  runId: string;
  /** The run's logical date. */
  logicalDate: Date;
  /** `YYYY-MM-DD` of the logical date, Airflow's `ds`. */
  ds: string;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  /** 1 for the first try. */
  tryNumber: number;
  /** DAG params merged with the run's conf. */
  params: Record<string, unknown>;
  /** The conf the run was triggered with ({} for scheduled runs). */
  conf: Record<string, unknown>;
  /** Writes structured lines to the try's log. */
  log: TaskLogger;
  /** -1, or for an instance of a mapped task, its index in the list it was expanded over. */
  mapIndex: number;
  /** For an instance of a mapped task: its element of the list (undefined otherwise). */
  item: unknown;
  xcom: XComAccess;
  variables: VariableAccess;
  connections: ConnectionAccess;
}

export interface TaskLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A function task's body. Its (JSON-serializable) return value is kept as the task's result. */
export type TaskFunction = (context: TaskContext) => unknown;

export interface DagOptions {
  /**
   * When runs happen. Default null (manual runs only). One of:
   * a 5-field cron string; a preset ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly",
   * "@yearly", "@midnight", "@annually"); "@once" (one run at `start`); "@continuous" (a new run as
   * soon as the previous one finished; needs maxActiveRuns 1); `{ every: "30m" }` (a fixed interval
   * from `start`); or assets: `asset(uri)`, an array of assets (all of them), `allOf(...)`, `anyOf(...)`.
   */
  schedule?: string | null | { every: Duration } | AssetExpression | readonly AssetExpression[];
  /**
   * What a cron or `{ every }` schedule means. "trigger": a run at each fire time, logical date = fire
   * time, empty data interval (Airflow 3's CronTriggerTimetable). "interval": a run per interval
   * [start, end) between fire times, after its end, logical date = start (CronDataIntervalTimetable).
   * Default "trigger".
   */
  timetable?: TimetableMeaning;
  /** A run still running this long after it started is failed and its unfinished tasks skipped. Default: no limit. */
  dagrunTimeout?: Duration | null;
  /** First logical date the schedule may produce. Required when a schedule is set. */
  start?: Date | string;
  /** Last logical date the schedule may produce. Default: none. */
  end?: Date | string;
  /** IANA zone the cron is evaluated in. Default "UTC". */
  timezone?: string;
  /** Create a run for every missed schedule since `start` (true) or only the latest (false). Default false. */
  catchup?: boolean;
  tags?: string[];
  description?: string;
  /** Runs of this DAG in flight at once. Default 16. */
  maxActiveRuns?: number;
  /** Task instances of this DAG queued or running at once, across all its runs. Default 16. */
  maxActiveTasks?: number;
  /**
   * Default params, overridden by a run's conf. A value made with `param(default, schema)` is also
   * validated (JSON Schema) when the DAG loads and when a run is triggered. Default {}.
   */
  params?: Record<string, unknown>;
  /** Task options applied to every task of the DAG (a task's own options win). */
  defaults?: TaskOptions;
  /** Called (in a callback process) once a run has succeeded. Default: none. */
  onSuccess?: DagCallback;
  /** Called (in a callback process) once a run has failed. Default: none. */
  onFailure?: DagCallback;
}

export type TaskKind = "function" | "bash";

/** What a task does beyond running its body; absent for plain tasks. */
export type TaskOperator = "branch" | "shortCircuit" | "sensor";

/** Sensor settings, as given to `sensor()`. */
export interface SensorOptions extends TaskOptions {
  /**
   * "poke" keeps the try (and its slot) and calls the check every pokeInterval; "reschedule" ends the
   * try after each check that is not done and frees the slot until the next one. Default "poke".
   */
  mode?: "poke" | "reschedule";
  /** Wait between two checks. Default "60s" (Airflow's 60 s). */
  pokeInterval?: Duration;
  /** Longest the sensor may wait, counted from its first check (across reschedules). Default "7d". */
  timeout?: Duration;
  /** On timeout, mark the sensor skipped instead of failed. Default false. */
  softFail?: boolean;
  /** Double the wait after each check that is not done (capped by maxWait). Default false. */
  exponentialBackoff?: boolean;
  /** Longest wait between checks with exponentialBackoff. Default: no cap but the timeout. */
  maxWait?: Duration;
}

/** What a sensor check returns: true/false, or `{ done, value }` where value becomes the XCom return value. */
export type SensorResult = boolean | { done: boolean; value?: unknown };
export type SensorFunction = (context: TaskContext) => SensorResult | Promise<SensorResult>;

/** Sensor settings as stored, with defaults applied. */
export interface SerializedSensor {
  mode: "poke" | "reschedule";
  pokeIntervalMs: number;
  timeoutMs: number;
  softFail: boolean;
  exponentialBackoff: boolean;
  maxWaitMs: number | null;
}

/** A task group as stored, for the UI to draw. */
export interface SerializedGroup {
  groupId: string;
  /** The enclosing group, or null at the top level. */
  parent: string | null;
  tooltip?: string;
}

/** A task as stored in the DB: everything but the function body, which stays in the DAG's module. */
export interface SerializedTask {
  taskId: string;
  kind: TaskKind;
  /** The shell command of a bash task. */
  command?: string;
  retries: number;
  retryDelayMs: number;
  /** Absent in DAGs serialized before the option existed: read as false. */
  retryExponentialBackoff?: boolean;
  maxRetryDelayMs?: number | null;
  dependsOnPast?: boolean;
  waitForDownstream?: boolean;
  executionTimeoutMs: number | null;
  triggerRule: TriggerRule;
  queue: string;
  pool: string;
  poolSlots: number;
  priorityWeight: number;
  /** Absent in DAGs serialized before the option existed: read as "downstream". */
  weightRule?: WeightRule;
  env: Record<string, string>;
  /** Folders put before PATH for the try (absent: none). */
  path?: string[];
  /** Bash script run before the try (absent: none). */
  preamble?: string;
  /** Bash tasks: push the last line of stdout as return_value. */
  xcomPush?: boolean;
  /** A mapped task: the upstream task whose return value (a list) it is expanded over. */
  expandFrom?: string;
  /** Task ids this task waits for. */
  upstream: string[];
  /** Task ids that wait for this task. */
  downstream: string[];
  /** URIs of the assets a success of this task updates (absent: none). */
  outlets?: string[];
  /** Branch, short-circuit or sensor; absent for plain tasks. */
  operator?: TaskOperator;
  /** Short-circuit: skip every descendant (true) or only the direct downstream tasks (false). */
  ignoreDownstreamTriggerRules?: boolean;
  sensor?: SerializedSensor;
  /** Present (true) only for setup tasks. */
  isSetup?: boolean;
  /** Present (true) only for teardown tasks. */
  isTeardown?: boolean;
  /** The task callbacks the task defines (absent when none). */
  callbacks?: TaskCallbackName[];
  /** Id of the innermost task group the task is in. */
  group?: string;
}

export interface SerializedDag {
  dagId: string;
  /** The DAG file it was defined in, relative to the bundle root (the deployed folder). */
  fileloc: string;
  /** The schedule as written, for listings: a cron string, a preset, "@every 30m", or the asset condition. */
  schedule: string | null;
  /** The schedule, resolved (absent in DAGs stored by older versions: `schedule` decides). */
  scheduleSpec?: ScheduleSpec;
  /** What a cron or interval schedule means (absent: "trigger"). */
  timetable?: TimetableMeaning;
  /** The DAG run timeout in ms (absent or null: none). */
  dagrunTimeoutMs?: number | null;
  /** Start and end as ISO 8601 (UTC), or null. */
  start: string | null;
  end: string | null;
  timezone: string;
  catchup: boolean;
  tags: string[];
  description: string | null;
  maxActiveRuns: number;
  /** Absent in DAGs serialized before the option existed: read as 16. */
  maxActiveTasks?: number;
  params: Record<string, unknown>;
  /** JSON Schemas of the params declared with `param()`, by name. */
  paramSchemas?: Record<string, Record<string, unknown>>;
  /** Tasks in a topological order. */
  tasks: SerializedTask[];
  /** The task groups, outer before inner (absent when the DAG has none). */
  groups?: SerializedGroup[];
  /** The DAG callbacks the DAG defines (absent when none). */
  callbacks?: DagCallbackName[];
}

/** Something a dependency can point at: a task, or a task group (its roots or leaves). */
export type Dependable = TaskRef | TaskGroupRef;

/** A task group declared with `group()`: usable in then/after/chain like a task. */
export interface TaskGroupRef {
  readonly groupId: string;
  readonly dagId: string;
  /** The enclosing group, if any. */
  readonly parent?: TaskGroupRef;
  /** Task options for the group's tasks (a task's own options win; inner groups over outer). */
  readonly defaults: Readonly<TaskOptions>;
  /** The group's tasks (nested groups included), in definition order. */
  readonly tasks: readonly TaskRef[];
  /** Makes `next` wait for the group's leaves; returns `next`. */
  then<T extends Dependable | readonly Dependable[]>(next: T): T;
  /** Makes the group's roots wait for `previous`; returns the group. */
  after(previous: Dependable | readonly Dependable[]): TaskGroupRef;
}

/** A task declared with `task()` or `bash()` inside a `dag()` build function. */
export interface TaskRef {
  readonly taskId: string;
  /** Id of the DAG the task belongs to. */
  readonly dagId: string;
  readonly kind: TaskKind;
  /** The body of a function task. */
  readonly fn?: TaskFunction;
  /** The shell command of a bash task. */
  readonly command?: string;
  /** Branch, short-circuit or sensor; undefined for plain tasks. */
  readonly operator?: TaskOperator;
  /** Sensor settings (sensor tasks). */
  readonly sensorOptions?: Readonly<SensorOptions>;
  /** Short-circuit: whether a falsy result skips all descendants. */
  readonly ignoreDownstreamTriggerRules?: boolean;
  /** The innermost group the task was declared in. */
  readonly group?: TaskGroupRef;
  /** The options the task was declared with (DAG defaults and built-in defaults are applied on serialize). */
  readonly options: Readonly<TaskOptions>;
  /** Tasks this task waits for, in the order the dependencies were declared. */
  readonly upstream: ReadonlySet<TaskRef>;
  /** Tasks that wait for this task, in the order the dependencies were declared. */
  readonly downstream: ReadonlySet<TaskRef>;
  /** Makes `next` (a task, or each task of an array) wait for this task; returns `next` for chaining. */
  then<T extends Dependable | readonly Dependable[]>(next: T): T;
  /** Makes this task wait for `previous` (a task, or each task of an array); returns this task. */
  after(previous: Dependable | readonly Dependable[]): TaskRef;
  /**
   * Makes this a mapped task: one instance per element of the list `source` returns at run time
   * (`ctx.item`, `ctx.mapIndex`; `{{ item }}` in bash templates). Also makes it wait for `source`.
   */
  expand(source: TaskRef): TaskRef;
  /** The task this mapped task is expanded over. */
  readonly expandSource?: TaskRef;
}

/** A DAG built by `dag()`: validated and registered. */
export interface Dag {
  readonly dagId: string;
  readonly options: Readonly<DagOptions>;
  /** Tasks by id, in definition order. */
  readonly tasks: ReadonlyMap<string, TaskRef>;
  /** JSON Schemas of params declared with `param()`. */
  readonly paramSchemas?: Readonly<Record<string, Record<string, unknown>>>;
  /** The DAG as stored in the DB, with every default applied; `fileloc` is the DAG file's path relative to the bundle root. */
  serialize(fileloc: string): SerializedDag;
}
