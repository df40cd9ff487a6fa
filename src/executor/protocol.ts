/** Messages between an executor and its runner processes, and what a try needs to run. */
import type { SerializedSensor, TaskCallbackName, TaskKind, TaskOperator } from "../dag/types.js";
import type { EnvironmentLayer } from "./task-environment.js";

/** A sensor's settings, plus what earlier checks of a reschedule-mode sensor left (filled in at claim time). */
export interface SensorRequest extends SerializedSensor {
  /** When the first check of this task instance started (reschedule mode); the timeout counts from it. */
  firstPokeAt?: number;
  /** Checks that ended in a reschedule so far; they do not count as tries for retries. */
  reschedules?: number;
}

/** Everything a runner needs to run one try; built by the scheduler, sent over IPC or a broker. */
export interface TryRequest {
  tiId: number;
  dagRunId: number;
  dagId: string;
  taskId: string;
  runId: string;
  mapIndex: number;
  tryNumber: number;
  /** The task instance's max_tries: a failed try is retried while its number is at most this (the task's retries, more after a clear). */
  maxTries: number;
  retryDelayMs: number;
  /** See TaskOptions.retryExponentialBackoff; absent means false. */
  retryExponentialBackoff?: boolean;
  /** See TaskOptions.maxRetryDelay; absent means no limit. */
  maxRetryDelayMs?: number | null;
  /** The queue the try was sent to (the local executor runs every queue). Default "default". */
  queue?: string;
  kind: TaskKind;
  /** bash tasks: the command. */
  command?: string;
  /** bash tasks: push the last line of stdout as return_value (default true). */
  xcomPush?: boolean;
  /** The DAG version the try runs (its run's version). */
  dagVersionId: number;
  /** The compiled DAG module of that version (defines function tasks and callbacks), by content hash. */
  moduleHash: string;
  /**
   * The local file of `moduleHash`, resolved by the process that runs the try (bundle/module-cache.ts)
   * right before it runs; never set by the scheduler, whose files other nodes do not have.
   */
  modulePath?: string;
  env: Record<string, string>;
  /** The task's PATH additions (absent: none). */
  path?: string[];
  /** The task's preamble (absent: none). */
  preamble?: string;
  /**
   * The task environment of the node that runs the try, for the try's queue (deployment, then queue);
   * set by the executor from its config [task_environment]. The task's env, path and preamble come last.
   */
  nodeEnvironment?: EnvironmentLayer[];
  executionTimeoutMs: number | null;
  logicalDate: number;
  dataIntervalStart: number;
  dataIntervalEnd: number;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** URIs of the assets a success updates (an event is recorded for each). */
  outlets?: string[];
  /** Branch, short-circuit or sensor (absent for plain tasks). */
  operator?: TaskOperator;
  sensor?: SensorRequest;
  /** The task callbacks the task defines (absent when none). */
  callbacks?: TaskCallbackName[];
  /** Largest XCom value in JSON bytes (config xcom_max_bytes); set by the executor. Default: no limit. */
  xcomMaxBytes?: number;
}

export type TryState = "success" | "failed" | "skipped" | "up_for_reschedule";

export interface TryOutcome {
  state: TryState;
  /** JSON text of a function task's return value, when it returned one. */
  resultJson?: string;
  /** Why the try failed, for the log and the state. */
  error?: string;
  /** The task asked to fail without using its remaining retries. */
  noRetry?: boolean;
  /** Branch and short-circuit: task ids of the same run to mark skipped with this (successful) outcome. */
  skipTaskIds?: string[];
  /** up_for_reschedule: when the sensor may check again (epoch ms). */
  rescheduleAt?: number;
  /** up_for_reschedule: when the check that was not done started. */
  pokeStartedAt?: number;
  /** The runner ran the task's callbacks for this outcome; otherwise (a killed try) they are requested. */
  callbacksRan?: boolean;
}

/**
 * The runtime channel: a running try asks the process that holds the DB for data (XCom, Variables,
 * Connections, its map item) with a call; the answer comes back as a reply with the same id.
 */
export interface RuntimeCall {
  type: "call";
  id: number;
  tiId: number;
  method: string;
  args: Record<string, unknown>;
}
export type RuntimeReply = { type: "reply"; id: number; ok: true; value?: unknown } | { type: "reply"; id: number; ok: false; error: string };

export type ToRunner = { type: "run"; request: TryRequest } | RuntimeReply;
/** Log text goes to the executor in chunks while the try runs; `done` carries the last one. */
export type FromRunner =
  | { type: "ready" }
  | { type: "log"; tiId: number; text: string }
  | RuntimeCall
  | { type: "done"; tiId: number; outcome: TryOutcome; log: string };
