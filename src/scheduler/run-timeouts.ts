/**
 * `dagrunTimeout`: a run still running longer than its DAG allows is marked failed and its
 * unfinished task instances skipped, as Airflow's scheduler does. Tries still running are stopped by
 * the executor, which watches for tries whose state was changed from outside.
 */
import type { Store } from "../store/db.js";
import { TERMINAL_TASK_STATES } from "../store/schema.js";
import type { DagCache } from "./dag-cache.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { requestDagCallback } from "./structure.js";

/** Fails the running runs that exceeded their DAG's run timeout; returns their ids. */
export async function failTimedOutRuns(store: Store, lease: LeaseHandle, cache: DagCache, now: number): Promise<number[]> {
  const running = await store.db.selectFrom("dag_run").select(["id", "dag_id", "start_date", "dag_version_id"]).where("state", "=", "running").execute();
  if (running.length === 0) return [];
  const dagOf = await cache.forRuns(running.map((r) => ({ dagId: r.dag_id, versionId: r.dag_version_id })));
  const dagOfRun = (run: (typeof running)[number]) => dagOf({ dagId: run.dag_id, versionId: run.dag_version_id })?.dag;
  const expired = running.filter((run) => {
    const timeout = dagOfRun(run)?.dagrunTimeoutMs ?? null;
    return timeout !== null && run.start_date !== null && now - run.start_date > timeout;
  });
  if (expired.length === 0) return [];
  return fenced(store, lease, async (trx) => {
    const failed: number[] = [];
    for (const run of expired) {
      const moved = await trx
        .updateTable("dag_run")
        .set({ state: "failed", end_date: now })
        .where("id", "=", run.id)
        .where("state", "=", "running")
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) continue;
      await trx
        .updateTable("task_instance")
        .set({ state: "skipped", end_date: now, next_try_at: null, updated_at: now })
        .where("dag_run_id", "=", run.id)
        .where((eb) => eb.or([eb("state", "is", null), eb("state", "not in", [...TERMINAL_TASK_STATES])]))
        .execute();
      const dag = dagOfRun(run);
      if (dag) await requestDagCallback(trx, dag, run.id, "failed", now, "timed_out");
      failed.push(run.id);
    }
    return failed;
  });
}
