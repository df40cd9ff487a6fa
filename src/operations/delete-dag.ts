/**
 * Deleting a DAG's metadata, as Airflow's delete_dag: the dag row, its versions, runs, task instances
 * and what is recorded under them, backfills, asset schedule rows and callback requests, in one
 * transaction. Refused while a try of the DAG is queued or running (an executor holds it). The event
 * log keeps its entries (an audit log must), and so do asset events and the compiled modules, which
 * other DAGs may share (`aloft dags prune-versions` removes modules no version uses). A DAG whose
 * file is still deployed comes back, as a new DAG, with the next deploy.
 */
import { ConflictError, NotFoundError } from "../errors.js";
import type { Store } from "../store/db.js";
import type { TaskState } from "../store/schema.js";
import { chunks } from "../util/chunks.js";
import { logEvent, type Actor } from "./context.js";
import { deleteTaskInstanceRecords } from "./delete-run.js";

/** Tries in these states are at an executor: deleting their records would leave them running unrecorded. */
const BUSY_STATES: TaskState[] = ["queued", "running"];

export interface DeletedDag {
  dagId: string;
  runs: number;
  taskInstances: number;
  versions: number;
}

export async function deleteDag(store: Store, actor: Actor, dagId: string): Promise<DeletedDag> {
  return store.transaction(async (trx) => {
    // Locked: a deploy or the scheduler updating the row waits, then finds it gone.
    let dagQuery = trx.selectFrom("dag").select("dag_id").where("dag_id", "=", dagId);
    if (store.supportsRowLocks) dagQuery = dagQuery.forUpdate();
    if (!(await dagQuery.executeTakeFirst())) throw new NotFoundError(`DAG '${dagId}' does not exist: see 'aloft dags list' for the DAG ids`);
    // Locked too, so that an executor finishing a try waits and then finds nothing to record.
    let tiQuery = trx.selectFrom("task_instance").select(["id", "state"]).where("dag_id", "=", dagId);
    if (store.supportsRowLocks) tiQuery = tiQuery.forUpdate();
    const tis = await tiQuery.execute();
    const busy = tis.filter((t) => t.state !== null && BUSY_STATES.includes(t.state)).length;
    // Airflow's words for the same refusal.
    if (busy > 0) throw new ConflictError(`Task instances of dag with id: '${dagId}' are still running (${busy} queued or running); wait for them to end, or mark the runs failed, then delete`);
    await deleteTaskInstanceRecords(trx, tis.map((t) => t.id));
    await trx.deleteFrom("task_instance").where("dag_id", "=", dagId).execute();
    const runIds = (await trx.selectFrom("dag_run").select("id").where("dag_id", "=", dagId).execute()).map((r) => r.id);
    for (const part of chunks(runIds)) await trx.deleteFrom("dag_run_asset_event").where("dag_run_id", "in", part).execute();
    await trx.deleteFrom("callback_request").where("dag_id", "=", dagId).execute();
    await trx.deleteFrom("dag_run").where("dag_id", "=", dagId).execute();
    await trx.deleteFrom("backfill").where("dag_id", "=", dagId).execute();
    await trx.deleteFrom("asset_dag_run_queue").where("dag_id", "=", dagId).execute();
    await trx.deleteFrom("dag_schedule_asset").where("dag_id", "=", dagId).execute();
    const versions = await trx.deleteFrom("dag_version").where("dag_id", "=", dagId).executeTakeFirst();
    await trx.deleteFrom("dag").where("dag_id", "=", dagId).execute();
    const deleted = { dagId, runs: runIds.length, taskInstances: tis.length, versions: Number(versions.numDeletedRows) };
    await logEvent(trx, actor, "delete_dag", { dagId }, { runs: deleted.runs, task_instances: deleted.taskInstances, versions: deleted.versions });
    return deleted;
  });
}
