/**
 * What branch, short-circuit and sensor tasks add to a try's outcome, and whether a failed try is
 * retried. Pure and shared by the runner (which runs the task) and the executor (which records it).
 */
import type { SensorResult, TaskRef } from "../dag/types.js";
import type { SensorRequest, TryOutcome, TryRequest } from "./protocol.js";
import { taskLabel } from "../dag/validate.js";

/** Whether a failed try is followed by another: retries left (reschedules do not count) and no FailTask. */
export function retryFollows(request: Pick<TryRequest, "tryNumber" | "maxTries" | "sensor">, outcome: Pick<TryOutcome, "state" | "noRetry">): boolean {
  if (outcome.state !== "failed" || outcome.noRetry) return false;
  const tries = request.tryNumber - (request.sensor?.reschedules ?? 0);
  return tries <= request.maxTries;
}


/**
 * A branch's outcome: the direct downstream tasks it did not choose are skipped. The result may name
 * direct downstream tasks, or groups standing for the direct downstream tasks inside them.
 */
export function branchOutcome(task: TaskRef, result: unknown): TryOutcome {
  const downstream = [...task.downstream];
  const chosen = result === null || result === undefined ? [] : Array.isArray(result) ? (result as unknown[]) : [result];
  const selected = new Set<string>();
  for (const id of chosen) {
    const matches = typeof id === "string" ? downstream.filter((d) => d.taskId === id || inGroupNamed(d, id)) : [];
    if (matches.length === 0) {
      const valid = downstream.map((d) => d.taskId).join(", ") || "(none: the branch has no downstream task)";
      return {
        state: "failed",
        error: `${taskLabel(task.dagId, task.taskId)}: the branch returned ${JSON.stringify(id)}, which is not a direct downstream task; valid choices: ${valid}`,
      };
    }
    for (const d of matches) selected.add(d.taskId);
  }
  // As Airflow: a direct downstream task that also comes after a chosen task is not skipped (it is
  // the join of `branch >> [a, join]; a >> join`); its trigger rule decides.
  const reached = descendants(downstream.filter((d) => selected.has(d.taskId)));
  const skip = downstream.map((d) => d.taskId).filter((id) => !selected.has(id) && !reached.has(id));
  return { state: "success", ...jsonResult(result), ...(skip.length > 0 ? { skipTaskIds: skip } : {}) };
}

/** A bash branch's choice: the ids on the last non-empty line of its standard output (none if empty). */
export function bashBranchChoice(stdout: string): string[] {
  const last = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1) ?? "";
  return last.split(/[\s,]+/).filter((id) => id !== "");
}

function inGroupNamed(task: TaskRef, groupId: string): boolean {
  for (let g = task.group; g !== undefined; g = g.parent) if (g.groupId === groupId) return true;
  return false;
}

/** A short-circuit's outcome: truthy continues; falsy skips the direct downstream tasks, or every descendant. */
export function shortCircuitOutcome(task: TaskRef, result: unknown): TryOutcome {
  if (result) return { state: "success", ...jsonResult(result) };
  const skip =
    task.ignoreDownstreamTriggerRules === false ? new Set([...task.downstream].map((d) => d.taskId)) : descendants([...task.downstream]);
  return { state: "success", ...jsonResult(result), ...(skip.size > 0 ? { skipTaskIds: [...skip] } : {}) };
}

/** Ids of `tasks` and everything downstream of them. */
function descendants(tasks: readonly TaskRef[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...tasks];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next.taskId)) continue;
    seen.add(next.taskId);
    stack.push(...next.downstream);
  }
  return seen;
}

function jsonResult(result: unknown): Pick<TryOutcome, "resultJson"> {
  if (result === undefined) return {};
  try {
    return { resultJson: JSON.stringify(result) };
  } catch {
    return {};
  }
}

export interface PokeResult {
  done: boolean;
  value?: unknown;
}

/** Reads a sensor check's return value; throws on anything but a boolean or `{ done, value? }`. */
export function pokeResult(result: SensorResult | unknown): PokeResult {
  if (typeof result === "boolean") return { done: result };
  if (typeof result === "object" && result !== null && typeof (result as { done?: unknown }).done === "boolean") {
    return result as PokeResult;
  }
  throw new Error(`a sensor check must return true, false or { done: boolean, value? }, got ${JSON.stringify(result) ?? String(result)}`);
}

/** Wait before check number `checks + 1`: pokeInterval, doubled per check with exponentialBackoff, capped by maxWait. */
export function pokeWaitMs(sensor: SensorRequest, checks: number): number {
  if (!sensor.exponentialBackoff) return sensor.pokeIntervalMs;
  const wait = sensor.pokeIntervalMs * 2 ** Math.max(0, checks - 1);
  return sensor.maxWaitMs === null ? wait : Math.min(wait, sensor.maxWaitMs);
}

/**
 * Runs a sensor's checks. Poke mode keeps calling `poke` within the try until it is done or the
 * timeout passes; reschedule mode checks once and, when not done, ends the try as up_for_reschedule.
 * A timeout fails the sensor without retry, or skips it with softFail (Airflow's AirflowSensorTimeout).
 */
export async function runSensor(
  sensor: SensorRequest,
  poke: () => Promise<PokeResult>,
  note: (message: string) => void,
): Promise<TryOutcome> {
  const tryStart = Date.now();
  const firstPokeAt = sensor.mode === "reschedule" ? (sensor.firstPokeAt ?? tryStart) : tryStart;
  let checks = sensor.mode === "reschedule" ? (sensor.reschedules ?? 0) : 0;
  for (;;) {
    const pokeStartedAt = Date.now();
    const result = await poke();
    checks++;
    if (result.done) return { state: "success", ...jsonResult(result.value) };
    const now = Date.now();
    if (now - firstPokeAt >= sensor.timeoutMs) {
      const message = `sensor timed out: not done ${now - firstPokeAt} ms after its first check (timeout ${sensor.timeoutMs} ms)`;
      return sensor.softFail ? (note(`${message}; softFail: skipped`), { state: "skipped" }) : { state: "failed", error: message, noRetry: true };
    }
    const wait = Math.max(0, Math.min(pokeWaitMs(sensor, checks), firstPokeAt + sensor.timeoutMs - now));
    if (sensor.mode === "reschedule") {
      note(`not done; rescheduled to check again in ${wait} ms`);
      return { state: "up_for_reschedule", rescheduleAt: now + wait, pokeStartedAt };
    }
    note(`not done; checking again in ${wait} ms`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
