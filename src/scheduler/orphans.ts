/**
 * Tries left behind by a scheduler process that stopped without finishing them. A queued try was never
 * claimed, so it goes back to scheduled with its try number; a running try's runner died with that
 * process, so the try counts as failed (retried if retries are left), with the reason in its log.
 * A cleared (restarting) try that was never stopped goes back to none for a new try.
 */
import type { TryRequest } from "../executor/protocol.js";
import { finishTries } from "../executor/tries.js";
import { logLine } from "../executor/try-logs.js";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import type { DagCache } from "./dag-cache.js";
import { fenced, type LeaseHandle } from "./lease.js";

const ORPHANED = "orphaned: the scheduler process that ran this try stopped before it finished";

export async function resetOrphanedTries(store: Store, lease: LeaseHandle, cache: DagCache, logger: Logger): Promise<void> {
  const now = Date.now();
  const requeued = await fenced(store, lease, async (trx) => {
    const result = await trx
      .updateTable("task_instance")
      .set((eb) => ({ state: "scheduled", try_number: eb("try_number", "-", 1), queued_at: null, updated_at: now }))
      .where("state", "=", "queued")
      .executeTakeFirst();
    // A cleared try whose executor went away before stopping it: nothing runs it any more, so it
    // goes back to none (its try row is closed) and the scheduler gives it a new try.
    await trx
      .updateTable("task_try")
      .set({ state: "restarting", end_date: now })
      .where("end_date", "is", null)
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
    const restarted = await trx
      .updateTable("task_instance")
      .set({ state: null, end_date: now, updated_at: now })
      .where("state", "=", "restarting")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) + Number(restarted.numUpdatedRows);
  });
  const running = await store.db
    .selectFrom("task_instance as ti")
    .innerJoin("task_try as t", (j) => j.onRef("t.ti_id", "=", "ti.id").onRef("t.try_number", "=", "ti.try_number"))
    .innerJoin("dag_run as r", "r.id", "ti.dag_run_id")
    .select(["ti.id", "ti.dag_run_id", "ti.dag_id", "ti.run_id", "ti.task_id", "ti.map_index", "ti.try_number", "ti.max_tries", "r.dag_version_id"])
    .where("ti.state", "=", "running")
    .execute();
  // Retries follow the settings of the run's version.
  const dagOf = await cache.forRuns(running.map((r) => ({ dagId: r.dag_id, versionId: r.dag_version_id })));
  const finished = running.map((ti) => {
    const task = dagOf({ dagId: ti.dag_id, versionId: ti.dag_version_id })?.tasks.get(ti.task_id);
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
    } as TryRequest;
    return { request, outcome: { state: "failed" as const, error: ORPHANED } };
  });
  const logs = finished.map((f) => ({ request: f.request, text: logLine("ERROR", `try ended: failed: ${ORPHANED}`), at: now }));
  await finishTries(store, finished, logs);
  if (requeued + finished.length > 0) {
    logger.warn({ requeued, failed: finished.length }, "reset tries orphaned by a previous scheduler process");
  }
}
