/**
 * When the next try of a failed task instance is due, as Airflow's TaskInstance.next_retry_datetime
 * computes it. Pure, so that the numbers can be checked exactly.
 */
import crypto from "node:crypto";
import { pythonIsoformat } from "../util/dates.js";

/** Airflow's MAX_RETRY_DELAY: the backoff is capped at 24 hours even with no maxRetryDelay. */
export const MAX_BACKOFF_MS = 24 * 60 * 60 * 1000;

export interface RetryPolicy {
  retryDelayMs: number;
  /** Default false. */
  retryExponentialBackoff?: boolean;
  /** Cap of the backoff; null or undefined for none. Applies only with backoff, as in Airflow. */
  maxRetryDelayMs?: number | null;
}

export interface FailedTry {
  dagId: string;
  taskId: string;
  /** Epoch ms. */
  logicalDate: number;
  /** The number of the try that failed (1 for the first). */
  tryNumber: number;
}

/**
 * Wait before the next try, in ms. Without backoff: the retry delay. With backoff:
 * min_backoff = ceil(delay_s × 2^(try − 1)) seconds (at least 1), plus a jitter in [0, min_backoff)
 * from the SHA-1 of "dag_id#task_id#logical_date#try" (the same string Airflow hashes), capped by
 * maxRetryDelay and by 24 h.
 */
export function retryDelayMs(policy: RetryPolicy, failed: FailedTry): number {
  if (!policy.retryExponentialBackoff) return policy.retryDelayMs;
  const minBackoff = Math.max(1, Math.ceil((policy.retryDelayMs / 1000) * 2 ** (failed.tryNumber - 1)));
  const key = `${failed.dagId}#${failed.taskId}#${pythonDatetime(failed.logicalDate)}#${failed.tryNumber}`;
  const hash = BigInt(`0x${crypto.createHash("sha1").update(key).digest("hex")}`);
  // A huge min_backoff (many tries) cannot be a BigInt of a non-integer; it is capped below anyway.
  const jitter = Number.isSafeInteger(minBackoff) ? Number(hash % BigInt(minBackoff)) : 0;
  let delayMs = Math.min((minBackoff + jitter) * 1000, MAX_BACKOFF_MS);
  if (policy.maxRetryDelayMs !== null && policy.maxRetryDelayMs !== undefined) delayMs = Math.min(delayMs, policy.maxRetryDelayMs);
  return delayMs;
}

/** `str()` of a UTC Python datetime: "2025-01-01 00:00:00+00:00", microseconds only when not zero. */
export function pythonDatetime(ms: number): string {
  return Number.isFinite(ms) ? pythonIsoformat(new Date(ms), " ") : "None";
}
