/**
 * Claiming and finishing task tries in the DB. The claim, a conditional update from queued to running
 * for an exact (task instance, try number) plus the insert of the try's row, is what makes each try
 * run at most once: a second claim of the same try finds nothing to update and loses.
 * Both operations take batches, so a busy executor pays a few statements per batch, not per try.
 */
import type { Kysely, Transaction } from "kysely";
import type { Store } from "../store/db.js";
import { dbTime } from "../store/db-clock.js";
import type { Database, TaskState } from "../store/schema.js";
import { chunks, groupBy } from "../util/chunks.js";
import type { FinishedTi } from "./executor.js";
import type { TryOutcome, TryRequest } from "./protocol.js";
import { retryDelayMs } from "./retry-delay.js";
import { appendTryLogs, createLogSizes, DEFAULT_TASK_LOG_MAX_BYTES, logCap, logLine, type LogChunk } from "./try-logs.js";
import { recordAssetEvents } from "../scheduler/assets.js";
import { attachSensorHistory, recordStructureOutcomes } from "./structure-records.js";
import { retryFollows } from "./structure-outcome.js";

type Db = Kysely<Database> | Transaction<Database>;

class ClaimContended extends Error {}

/** Who claims: the host, and the worker (see worker/registry.ts) whose heartbeat vouches for the tries. */
export interface Claimer {
  hostname: string;
  worker: string;
}

/** Claims the tries for this worker; returns the ones this call won. */
export async function claimTries(store: Store, claimer: Claimer, requests: TryRequest[]): Promise<TryRequest[]> {
  if (requests.length === 0) return [];
  const now = await dbTime(store);
  try {
    await store.transaction((trx) => claimAll(trx, claimer, requests, now));
    return requests;
  } catch (error) {
    if (!(error instanceof ClaimContended)) throw error;
  }
  // Someone else claimed part of the batch: claim one by one to learn which are ours.
  const won: TryRequest[] = [];
  for (const request of requests) {
    try {
      await store.transaction((trx) => claimAll(trx, claimer, [request], now));
      won.push(request);
    } catch (error) {
      if (!(error instanceof ClaimContended)) throw error;
    }
  }
  return won;
}

async function claimAll(trx: Db, { hostname, worker }: Claimer, requests: TryRequest[], now: number): Promise<void> {
  let claimed = 0;
  for (const [, group] of groupBy(requests, (r) => String(r.tryNumber))) {
    for (const part of chunks(group)) {
      const result = await trx
        .updateTable("task_instance")
        .set({ state: "running", start_date: now, end_date: null, duration_ms: null, hostname, worker, updated_at: now })
        .where("id", "in", part.map((r) => r.tiId))
        .where("try_number", "=", part[0]!.tryNumber)
        .where("state", "=", "queued")
        .executeTakeFirst();
      claimed += Number(result.numUpdatedRows);
    }
  }
  if (claimed !== requests.length) throw new ClaimContended();
  await attachSensorHistory(trx, requests);
  for (const part of chunks(requests, 500)) {
    await trx
      .insertInto("task_try")
      .values(
        part.map((r) => ({
          ti_id: r.tiId,
          try_number: r.tryNumber,
          dag_id: r.dagId,
          run_id: r.runId,
          task_id: r.taskId,
          map_index: r.mapIndex,
          state: "running" as const,
          queue: r.queue ?? null,
          hostname,
          worker,
          pid: null,
          start_date: now,
          end_date: null,
          duration_ms: null,
        })),
      )
      .execute();
    // A new try starts with no XCom of its own (Airflow clears them too); a first try has none.
    const retried = part.filter((r) => r.tryNumber > 1).map((r) => r.tiId);
    if (retried.length > 0) await trx.deleteFrom("xcom").where("ti_id", "in", retried).execute();
    await createLogSizes(trx, part);
  }
}

/**
 * Sets the given running tries of `worker` to restarting with one more try allowed, with the reason in
 * their log: their runner is then stopped and settleStoppedTries sends them back to none, so they run
 * again as a new try that does not use up a retry.
 */
export async function handBackTries(store: Store, worker: string, requests: TryRequest[], reason: string, logMaxBytes?: number): Promise<void> {
  const now = await dbTime(store);
  await store.transaction(async (trx) => {
    for (const [, group] of groupBy(requests, (r) => String(r.tryNumber))) {
      for (const part of chunks(group)) {
        await trx
          .updateTable("task_instance")
          .set((eb) => ({ state: "restarting", max_tries: eb("max_tries", "+", 1), updated_at: now }))
          .where("id", "in", part.map((r) => r.tiId))
          .where("try_number", "=", part[0]!.tryNumber)
          .where("state", "=", "running")
          .where("worker", "=", worker)
          .execute();
      }
    }
    await appendTryLogs(
      trx,
      requests.map((request) => ({ request, text: logLine("WARN", `handed back: ${reason}`), at: now })),
      logCap(store, logMaxBytes),
    );
  });
}

export interface FinishedTry {
  request: TryRequest;
  outcome: TryOutcome;
}

/** The state a try's outcome leaves its task instance in. */
function finalState(request: TryRequest, outcome: TryOutcome): TaskState {
  if (outcome.state !== "failed") return outcome.state;
  return retryFollows(request, outcome) ? "up_for_retry" : "failed";
}

/**
 * Records the outcomes of running tries, with the last of their log text (capped at `logMaxBytes`,
 * config task_log_max_bytes); an outcome for a try that is no longer running is ignored.
 */
export async function finishTries(
  store: Store,
  finished: FinishedTry[],
  logs: LogChunk[] = [],
  logMaxBytes = DEFAULT_TASK_LOG_MAX_BYTES,
): Promise<FinishedTi[]> {
  if (finished.length === 0 && logs.length === 0) return [];
  const now = await dbTime(store);
  return store.transaction(async (trx) => {
    await appendTryLogs(trx, logs, logCap(store, logMaxBytes));
    const live = await stillRunning(trx, finished, store.supportsRowLocks);
    const recorded = live.map((f) => {
      const state = finalState(f.request, f.outcome);
      const { request } = f;
      const nextTryAt =
        state === "up_for_retry"
          ? now + retryDelayMs(request, request)
          : state === "up_for_reschedule"
            ? // The sensor's time is by this node's clock: keep the wait it asked for, on the DB's clock.
              now + Math.max(0, (f.outcome.rescheduleAt ?? 0) - Date.now())
            : undefined;
      return { tiId: f.request.tiId, tryNumber: f.request.tryNumber, state, nextTryAt };
    });
    for (const [, group] of groupBy(recorded, (r) => `${r.state}|${r.tryNumber}|${r.nextTryAt}`)) {
      const { state, tryNumber, nextTryAt } = group[0]!;
      for (const part of chunks(group)) {
        const ids = part.map((r) => r.tiId);
        await trx
          .updateTable("task_instance")
          .set((eb) => ({
            state,
            end_date: now,
            duration_ms: eb(eb.val(now), "-", eb.ref("start_date")),
            next_try_at: nextTryAt ?? null,
            updated_at: now,
          }))
          .where("id", "in", ids)
          .where("try_number", "=", tryNumber)
          .where("state", "=", "running")
          .execute();
        await trx
          .updateTable("task_try")
          .set((eb) => ({
            state: state === "up_for_retry" ? "failed" : state,
            end_date: now,
            duration_ms: eb(eb.val(now), "-", eb.ref("start_date")),
          }))
          .where("ti_id", "in", ids)
          .where("try_number", "=", tryNumber)
          .execute();
      }
    }
    const results = live.filter((f) => f.outcome.state === "success" && f.outcome.resultJson !== undefined);
    for (const part of chunks(results, 500)) {
      await trx
        .insertInto("xcom")
        .values(
          part.map((f) => ({
            ti_id: f.request.tiId,
            key: "return_value",
            dag_id: f.request.dagId,
            run_id: f.request.runId,
            task_id: f.request.taskId,
            map_index: f.request.mapIndex,
            value: f.outcome.resultJson!,
            created_at: now,
          })),
        )
        .execute();
    }
    // Asset events are written with the success that causes them.
    await recordAssetEvents(
      trx,
      live
        .filter((f) => f.outcome.state === "success" && (f.request.outlets?.length ?? 0) > 0)
        .map((f) => ({ dagId: f.request.dagId, runId: f.request.runId, taskId: f.request.taskId, mapIndex: f.request.mapIndex, outlets: f.request.outlets! })),
      now,
    );
    // Branch skips, sensor reschedules and requested callbacks commit with the outcomes they belong to.
    const skipped = await recordStructureOutcomes(trx, live, recorded, now);
    return [...recorded.map(({ tiId, state, nextTryAt }) => ({ tiId, state, nextTryAt })), ...skipped];
  });
}

/**
 * The tries that are still the running try of their task instance. Others were changed meanwhile
 * (marked by hand, or reset): their outcome, and their result, must not overwrite what is there now.
 */
async function stillRunning(trx: Db, finished: FinishedTry[], lockRows: boolean): Promise<FinishedTry[]> {
  const running = new Set<string>();
  for (const part of chunks(finished)) {
    const rows = await trx
      .selectFrom("task_instance")
      .select(["id", "try_number"])
      .where("id", "in", part.map((f) => f.request.tiId))
      .where("state", "=", "running")
      .$if(lockRows, (q) => q.forUpdate())
      .execute();
    for (const row of rows) running.add(`${row.id}|${row.try_number}`);
  }
  return finished.filter((f) => running.has(`${f.request.tiId}|${f.request.tryNumber}`));
}
