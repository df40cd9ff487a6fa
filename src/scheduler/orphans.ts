/**
 * Tries whose worker went away without finishing them. A queued try was never claimed, so it goes back
 * to scheduled with its try number; a running try's runner died with its worker, so the try counts as
 * failed (retried if retries are left), with the reason in its log and state. A cleared (restarting) try
 * that was never stopped goes back to none for a new try.
 *
 * At scheduler start this covers the local executor of a previous scheduler process on this host whose
 * process is gone; while the scheduler runs, `settleDeadWorkers` covers workers (remote ones, and the
 * local executor of a scheduler on another node) whose heartbeat stopped. A try whose worker may still
 * be alive is left alone until its heartbeat says otherwise: resetting it could run it twice.
 */
import os from "node:os";
import type { ExpressionBuilder } from "kysely";
import type { TryRequest } from "../executor/protocol.js";
import { finishTries } from "../executor/tries.js";
import { logLine } from "../executor/try-logs.js";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { markWorkerDead, silentWorkers } from "../worker/registry.js";
import type { DagCache } from "./dag-cache.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { processExists } from "../util/process-exists.js";

const ORPHANED = "orphaned: the scheduler process that ran this try stopped before it finished";

/** Task instances claimed by no recorded worker, or by a worker that is no longer running. */
function notHeldByLiveWorker(eb: ExpressionBuilder<Database, "task_instance">) {
  return eb.or([
    eb("task_instance.worker", "is", null),
    eb.not(
      eb.exists(
        eb
          .selectFrom("worker")
          .select("worker.name")
          .whereRef("worker.name", "=", "task_instance.worker")
          .where("worker.state", "in", ["running", "stopping"]),
      ),
    ),
  ]);
}

/** Marks dead the local executors of earlier scheduler processes on this host whose process is gone. */
async function markGoneLocalWorkers(store: Store): Promise<void> {
  const host = os.hostname();
  const local = await store.db
    .selectFrom("worker")
    .select(["name", "pid", "last_heartbeat"])
    .where("kind", "=", "local")
    .where("hostname", "=", host)
    .where("state", "in", ["running", "stopping"])
    .execute();
  for (const worker of local) {
    if (worker.pid === process.pid || processExists(worker.pid)) continue;
    await markWorkerDead(store, worker.name, Number(worker.last_heartbeat), `the scheduler process ${worker.pid} on ${host} is gone`);
  }
}


/** `logMaxBytes`: config task_log_max_bytes, for the line this adds to the failed tries' logs. */
export async function resetOrphanedTries(store: Store, lease: LeaseHandle, cache: DagCache, logger: Logger, logMaxBytes?: number): Promise<void> {
  const now = Date.now();
  const requeued = await fenced(store, lease, async (trx) => {
    // A queued try's message may still be in a broker: when it is delivered, its claim loses against the
    // try queued again with the same number, or wins first, in which case the requeue finds it running.
    const result = await trx
      .updateTable("task_instance")
      .set((eb) => ({ state: "scheduled", try_number: eb("try_number", "-", 1), queued_at: null, updated_at: now }))
      .where("state", "=", "queued")
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  });
  await markGoneLocalWorkers(store);
  const lost = await settleLostTries(store, cache, notHeldByLiveWorker, ORPHANED, logMaxBytes);
  if (requeued + lost > 0) {
    logger.warn({ requeued, settled: lost }, "reset tries orphaned by a previous scheduler process");
  }
}

/**
 * Marks dead the workers whose heartbeat is older than `timeoutMs` (DB time) and settles their tries:
 * running ones fail (retried if retries are left) with the reason in their log; cleared ones go back to none.
 */
export async function settleDeadWorkers(store: Store, cache: DagCache, timeoutMs: number, logger: Logger, logMaxBytes?: number): Promise<string[]> {
  const dead: string[] = [];
  for (const worker of await silentWorkers(store, timeoutMs)) {
    const lastSeen = new Date(Number(worker.last_heartbeat)).toISOString();
    const reason =
      `worker ${worker.name} (host ${worker.hostname}, pid ${worker.pid}) stopped heartbeating: ` +
      `last heartbeat at ${lastSeen}, more than ${Math.round(timeoutMs / 1000)} s (worker_timeout_ms) ago`;
    if (!(await markWorkerDead(store, worker.name, Number(worker.last_heartbeat), reason))) continue;
    const settled = await settleLostTries(store, cache, (eb) => eb("task_instance.worker", "=", worker.name), `lost: ${reason}`, logMaxBytes);
    logger.warn({ worker: worker.name, host: worker.hostname, last_heartbeat: lastSeen, tries: settled }, "worker is dead; its tries were settled");
    dead.push(worker.name);
  }
  return dead;
}

/** Settles the running and cleared tries of the task instances `held` selects; returns how many. */
async function settleLostTries(
  store: Store,
  cache: DagCache,
  held: (eb: ExpressionBuilder<Database, "task_instance">) => ReturnType<ExpressionBuilder<Database, "task_instance">["or"]>,
  reason: string,
  logMaxBytes: number | undefined,
): Promise<number> {
  const now = Date.now();
  // A cleared try whose worker went away before stopping it: nothing runs it any more, so it goes back
  // to none (its try row is closed) and the scheduler gives it a new try.
  const restarted = await store.transaction(async (trx) => {
    const ids = (await trx.selectFrom("task_instance").select("id").where("state", "=", "restarting").where(held).execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    await trx
      .updateTable("task_try")
      .set({ state: "restarting", end_date: now })
      .where("end_date", "is", null)
      .where("ti_id", "in", ids)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom("task_instance as ti")
            .select("ti.id")
            .whereRef("ti.id", "=", "task_try.ti_id")
            .whereRef("ti.try_number", "=", "task_try.try_number")
            .where("ti.state", "=", "restarting"),
        ),
      )
      .execute();
    const result = await trx
      .updateTable("task_instance")
      .set({ state: null, end_date: now, updated_at: now })
      .where("id", "in", ids)
      .where("state", "=", "restarting")
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  });
  const running = await store.db
    .selectFrom("task_instance")
    .innerJoin("task_try as t", (j) => j.onRef("t.ti_id", "=", "task_instance.id").onRef("t.try_number", "=", "task_instance.try_number"))
    .innerJoin("dag_run as r", "r.id", "task_instance.dag_run_id")
    .select([
      "task_instance.id",
      "task_instance.dag_run_id",
      "task_instance.dag_id",
      "task_instance.run_id",
      "task_instance.task_id",
      "task_instance.map_index",
      "task_instance.try_number",
      "task_instance.max_tries",
      "r.dag_version_id",
    ])
    .where("task_instance.state", "=", "running")
    .where(held)
    .execute();
  // Retries follow the settings of the run's version.
  const dagOf = await cache.forRuns(running.map((r) => ({ dagId: r.dag_id, versionId: r.dag_version_id })));
  const finished = running.map((ti) => {
    const version = dagOf({ dagId: ti.dag_id, versionId: ti.dag_version_id });
    const task = version?.tasks.get(ti.task_id);
    const request = {
      tiId: ti.id,
      dagRunId: ti.dag_run_id,
      dagId: ti.dag_id,
      runId: ti.run_id,
      taskId: ti.task_id,
      mapIndex: ti.map_index,
      tryNumber: ti.try_number,
      maxTries: ti.max_tries,
      retryDelayMs: task?.retryDelayMs ?? 0,
      retryExponentialBackoff: task?.retryExponentialBackoff,
      maxRetryDelayMs: task?.maxRetryDelayMs,
      // Its onFailure / onRetry callback runs in the callback runner, as for any try that was killed.
      ...(version && task?.callbacks ? { callbacks: [...task.callbacks], moduleHash: version.moduleHash, dagVersionId: version.versionId } : {}),
    } as TryRequest;
    return { request, outcome: { state: "failed" as const, error: reason } };
  });
  const logs = finished.map((f) => ({ request: f.request, text: logLine("ERROR", `try ended: failed: ${reason}`), at: now }));
  const recorded = await finishTries(store, finished, logs, logMaxBytes);
  return restarted + recorded.length;
}
