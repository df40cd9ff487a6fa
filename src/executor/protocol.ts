/** Messages between an executor and its runner processes, and what a try needs to run. */
import type { TaskKind } from "../dag/types.js";

/** Everything a runner needs to run one try; built by the scheduler, sent over IPC or a broker. */
export interface TryRequest {
  tiId: number;
  dagRunId: number;
  dagId: string;
  taskId: string;
  runId: string;
  mapIndex: number;
  tryNumber: number;
  /** Tries allowed beyond the first (the task's retries). */
  maxTries: number;
  retryDelayMs: number;
  kind: TaskKind;
  /** bash tasks: the command. */
  command?: string;
  /** function tasks: the compiled DAG module that defines the function. */
  modulePath: string;
  env: Record<string, string>;
  executionTimeoutMs: number | null;
  logicalDate: number;
  dataIntervalStart: number;
  dataIntervalEnd: number;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** URIs of the assets a success updates (an event is recorded for each). */
  outlets?: string[];
}

export type TryState = "success" | "failed" | "skipped";

export interface TryOutcome {
  state: TryState;
  /** JSON text of a function task's return value, when it returned one. */
  resultJson?: string;
  /** Why the try failed, for the log and the state. */
  error?: string;
  /** The task asked to fail without using its remaining retries. */
  noRetry?: boolean;
}

export type ToRunner = { type: "run"; request: TryRequest };
/** Log text goes to the executor in chunks while the try runs; `done` carries the last one. */
export type FromRunner =
  | { type: "ready" }
  | { type: "log"; tiId: number; text: string }
  | { type: "done"; tiId: number; outcome: TryOutcome; log: string };
