/**
 * Deleting a DAG run, as Airflow's DELETE dagRun: the run and everything recorded under it (its task
 * instances, their tries, logs, log sizes, XComs and sensor reschedules, the asset events it consumed,
 * its callback requests) go in one transaction. The event log keeps its entries, as an audit log
 * must; asset events the run produced stay too, since other DAGs may have consumed them.
 */
import { NotFoundError } from "../errors.js";
import type { Store } from "../store/db.js";
import { chunks } from "../util/chunks.js";
import { logEvent, requireRun, type Actor, type Db } from "./context.js";

export interface DeletedRun {
  dagId: string;
  runId: string;
  /** The run's state when it was deleted. */
  state: string;
  taskInstances: number;
}

export async function deleteRun(store: Store, actor: Actor, dagId: string, runId: string): Promise<DeletedRun> {
  return store.transaction(async (trx) => {
    const { run } = await requireRun(trx, dagId, runId);
    // Locked, so that an executor finishing a try of the run waits and then finds nothing to record.
    let tiQuery = trx.selectFrom("task_instance").select("id").where("dag_run_id", "=", run.id);
    if (store.supportsRowLocks) tiQuery = tiQuery.forUpdate();
    const tiIds = (await tiQuery.execute()).map((t) => t.id);
    await deleteTaskInstanceRecords(trx, tiIds);
    // By run, not by the ids read above: a scheduler that started the run meanwhile created instances of it.
    await trx.deleteFrom("task_instance").where("dag_run_id", "=", run.id).execute();
    await trx.deleteFrom("dag_run_asset_event").where("dag_run_id", "=", run.id).execute();
    await trx.deleteFrom("callback_request").where("dag_id", "=", dagId).where("run_id", "=", runId).execute();
    const deleted = await trx.deleteFrom("dag_run").where("id", "=", run.id).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw new NotFoundError(`DAG '${dagId}' has no run '${runId}' any more: it was deleted meanwhile`);
    await logEvent(trx, actor, "delete_run", { dagId, runId }, { state: run.state, task_instances: tiIds.length });
    return { dagId, runId, state: run.state, taskInstances: tiIds.length };
  });
}

/** What is recorded under task instances (tries, logs, log sizes, XComs, reschedules); not the instances. */
export async function deleteTaskInstanceRecords(trx: Db, tiIds: readonly number[]): Promise<void> {
  for (const part of chunks(tiIds)) {
    await trx.deleteFrom("task_try").where("ti_id", "in", part).execute();
    await trx.deleteFrom("task_log").where("ti_id", "in", part).execute();
    await trx.deleteFrom("task_log_size").where("ti_id", "in", part).execute();
    await trx.deleteFrom("xcom").where("ti_id", "in", part).execute();
    await trx.deleteFrom("task_reschedule").where("ti_id", "in", part).execute();
  }
}
