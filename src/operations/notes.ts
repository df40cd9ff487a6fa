/** Notes on DAG runs and task instances: free text set by hand, shown by list-runs and tasks states. */
import type { Store } from "../store/db.js";
import { logEvent, requireRun, requireTasks, type Actor } from "./context.js";

/** Sets (or, with null, removes) the note of a run. */
export async function setRunNote(store: Store, actor: Actor, dagId: string, runId: string, note: string | null): Promise<void> {
  await store.transaction(async (trx) => {
    const { run } = await requireRun(trx, dagId, runId);
    await trx.updateTable("dag_run").set({ note }).where("id", "=", run.id).execute();
    await logEvent(trx, actor, "note", { dagId, runId }, { note });
  });
}

/** Sets the note of every instance of the task in the run; null removes it. */
export async function setTaskNote(store: Store, actor: Actor, dagId: string, runId: string, taskId: string, note: string | null): Promise<void> {
  await store.transaction(async (trx) => {
    const { run } = await requireRun(trx, dagId, runId);
    const tis = await trx.selectFrom("task_instance").select(["id", "task_id"]).where("dag_run_id", "=", run.id).execute();
    requireTasks(dagId, runId, tis.map((t) => t.task_id), [taskId]);
    await trx.updateTable("task_instance").set({ note }).where("dag_run_id", "=", run.id).where("task_id", "=", taskId).execute();
    await logEvent(trx, actor, "note", { dagId, runId, taskId }, { note });
  });
}
