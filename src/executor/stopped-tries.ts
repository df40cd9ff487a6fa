/**
 * Tries that ended after someone else changed their task instance (cleared it while running, marked
 * it by hand, or a run timeout skipped it). Their outcome is not recorded (finishTries ignores it); this
 * closes their try row with the state the task instance was left in and sends a cleared ("restarting")
 * task instance back to none, so that the scheduler gives it a new try once its upstream tasks allow.
 */
import type { Store } from "../store/db.js";
import type { TaskState } from "../store/schema.js";
import type { TryRequest } from "./protocol.js";

/** Why a running try is being stopped, for its log, given the state someone else set. */
export function stopReason(state: TaskState | null, tryNumber: number, currentTry: number): string {
  if (currentTry !== tryNumber) return `the task instance moved on to try ${currentTry} while try ${tryNumber} ran`;
  if (state === "restarting") return "the task instance was cleared while the try ran; it will run again";
  if (state === "success" || state === "failed") return `the task instance was marked ${state} by hand while the try ran`;
  return `the task instance was set to ${state ?? "none"} while the try ran`;
}

export async function settleStoppedTries(store: Store, requests: TryRequest[]): Promise<void> {
  if (requests.length === 0) return;
  const now = Date.now();
  await store.transaction(async (trx) => {
    for (const request of requests) {
      const ti = await trx
        .selectFrom("task_instance")
        .select(["state", "try_number"])
        .where("id", "=", request.tiId)
        .executeTakeFirst();
      const sameTry = ti?.try_number === request.tryNumber;
      const tryState: TaskState = sameTry && ti?.state && ti.state !== "running" ? ti.state : "failed";
      await trx
        .updateTable("task_try")
        .set((eb) => ({ state: tryState, end_date: now, duration_ms: eb(eb.val(now), "-", eb.ref("start_date")) }))
        .where("ti_id", "=", request.tiId)
        .where("try_number", "=", request.tryNumber)
        .where("end_date", "is", null)
        .execute();
      if (sameTry && ti?.state === "restarting") {
        await trx
          .updateTable("task_instance")
          .set({ state: null, end_date: now, updated_at: now })
          .where("id", "=", request.tiId)
          .where("try_number", "=", request.tryNumber)
          .where("state", "=", "restarting")
          .execute();
      }
    }
  });
}
