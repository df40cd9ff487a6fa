/** Messages between the callback runner and a callback process. */

/** Everything a callback process needs to call one DAG or task callback. */
export interface CallbackJob {
  kind: "dag" | "task";
  /** onSuccess, onFailure, onRetry... */
  callback: string;
  dagId: string;
  runId: string;
  taskId: string | null;
  /** The local file of the compiled DAG module that defines the callback (the run's version, from the module cache). */
  modulePath: string;
  logicalDate: number;
  dataIntervalStart: number;
  dataIntervalEnd: number;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** DAG callbacks: the run's final state and why. */
  state?: "success" | "failed";
  reason?: string;
  /** Task callbacks: the try and why it failed. */
  tryNumber?: number;
  error?: string;
}

export type ToCallbackProcess = { type: "run"; job: CallbackJob };
export type FromCallbackProcess =
  | { type: "log"; level: "info" | "warn" | "error"; message: string }
  | { type: "done"; ok: boolean; error?: string };
