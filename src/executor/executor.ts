/** The contract between the scheduler and whatever runs its tries (local runner pool; brokers later). */
import type { TaskState } from "../store/schema.js";
import type { TryRequest } from "./protocol.js";

export interface Executor {
  /** Tries this executor can take now. */
  freeSlots(): number;
  /** Takes tries the scheduler has just queued. */
  submit(requests: TryRequest[]): void;
  /** Called with the task instances whose tries ended and were recorded, and the state each was left in. */
  onTriesFinished(listener: (finished: FinishedTi[]) => void): void;
  /** Waits up to `graceMs` for running tries to end, then stops the rest, which end as failed. */
  close(graceMs?: number): Promise<void>;
}

export interface FinishedTi {
  tiId: number;
  state: TaskState;
  /** For up_for_retry: when the next try may start. */
  nextTryAt?: number;
}
