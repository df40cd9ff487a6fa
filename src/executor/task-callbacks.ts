/**
 * Task callbacks in the runner: onExecute before the body, then onSuccess, onRetry, onFailure or
 * onSkipped by the try's outcome. A callback's error goes to the try's log and changes nothing else.
 */
import { declaredOption } from "../dag/options.js";
import type { Dag, TaskCallbackContext, TaskCallbackName, TaskContext, TaskRef } from "../dag/types.js";
import { retryFollows } from "./structure-outcome.js";
import type { TryOutcome, TryRequest } from "./protocol.js";

/** The callback an outcome fires, if any (reschedules fire none). */
export function callbackFor(request: TryRequest, outcome: TryOutcome): TaskCallbackName | undefined {
  switch (outcome.state) {
    case "success":
      return "onSuccess";
    case "skipped":
      return "onSkipped";
    case "failed":
      return retryFollows(request, outcome) ? "onRetry" : "onFailure";
    default:
      return undefined;
  }
}

/** Runs one task callback, if the task defines it; returns false if it threw (already logged). */
export async function runTaskCallback(
  dag: Dag,
  task: TaskRef,
  name: TaskCallbackName,
  context: TaskContext,
  error: string | undefined,
  log: (level: "INFO" | "ERROR", message: string) => void,
): Promise<boolean> {
  const callback = declaredOption(dag, task, name);
  if (typeof callback !== "function") return true;
  log("INFO", `running ${name} callback`);
  try {
    const ctx: TaskCallbackContext = { ...context, ...(error !== undefined ? { error } : {}) };
    await callback(ctx);
    return true;
  } catch (cause) {
    const detail = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
    log("ERROR", `${name} callback failed (the task's state is unchanged): ${detail}`);
    return false;
  }
}
