/**
 * Clearing task instances, as Airflow's clear_task_instances: a cleared instance goes back to none
 * (or, while its try runs, to restarting: its executor stops the try and it runs again), with its
 * retries given again (max_tries = try_number + retries); a finished run goes back to queued, so the
 * scheduler runs the cleared tasks within the DAG's max active runs.
 */
import type { Store } from "../store/db.js";
import type { TaskState } from "../store/schema.js";
import { requireRun, requireTasks, logEvent, withRelatives, type Actor, type Db, type RunAndDag } from "./context.js";
import { chunks } from "../util/chunks.js";

export interface ClearOptions {
  /** Tasks to clear; default every task of the run. */
  taskIds?: string[];
  /** Also clear every task before them. Default false. */
  upstream?: boolean;
  /** Also clear every task after them. Default false. */
  downstream?: boolean;
  /** Only instances that failed or are upstream_failed. Default false. */
  onlyFailed?: boolean;
  /** Only say what would be cleared. Default false. */
  dryRun?: boolean;
  /** Task ids left alone whatever the other options select. */
  exclude?: Iterable<string>;
}

export interface ClearedTi {
  taskId: string;
  mapIndex: number;
  from: TaskState | null;
  to: "restarting" | null;
}

export interface ClearResult {
  dagId: string;
  runId: string;
  cleared: ClearedTi[];
  /** The run's state before and after (a finished run goes back to queued). */
  runState: { from: string; to: string };
}

const FAILED_STATES: ReadonlyArray<TaskState | null> = ["failed", "upstream_failed"];
const FINISHED_RUN = ["success", "failed"];

export async function clearTaskInstances(store: Store, actor: Actor, dagId: string, runId: string, options: ClearOptions = {}): Promise<ClearResult> {
  return store.transaction(async (trx) => clearInRun(trx, actor, await requireRun(trx, dagId, runId), options));
}

/** Clears within `trx`, for a run already looked up (marking uses it to resume downstream tasks). */
export async function clearInRun(trx: Db, actor: Actor, { run, dag }: RunAndDag, options: ClearOptions): Promise<ClearResult> {
  const tis = await trx
    .selectFrom("task_instance")
    .select(["id", "task_id", "map_index", "state", "try_number", "max_tries"])
    .where("dag_run_id", "=", run.id)
    .execute();
  if (options.taskIds && options.taskIds.length > 0) requireTasks(run.dag_id, run.run_id, tis.map((t) => t.task_id), options.taskIds);
  const roots = options.taskIds && options.taskIds.length > 0 ? options.taskIds : tis.map((t) => t.task_id);
  const selected = withRelatives(dag, roots, Boolean(options.upstream), Boolean(options.downstream));
  for (const id of options.exclude ?? []) selected.delete(id);
  const retries = new Map((dag?.tasks ?? []).map((t) => [t.taskId, t.retries]));

  const chosen = tis.filter(
    (ti) =>
      selected.has(ti.task_id) &&
      ti.state !== null &&
      ti.state !== "restarting" &&
      (!options.onlyFailed || FAILED_STATES.includes(ti.state)),
  );
  const cleared: ClearedTi[] = chosen.map((ti) => ({
    taskId: ti.task_id,
    mapIndex: ti.map_index,
    from: ti.state,
    to: ti.state === "running" ? "restarting" : null,
  }));
  const runFinished = FINISHED_RUN.includes(run.state) && cleared.length > 0;
  const result: ClearResult = {
    dagId: run.dag_id,
    runId: run.run_id,
    cleared,
    runState: { from: run.state, to: runFinished ? "queued" : run.state },
  };
  if (options.dryRun || cleared.length === 0) return result;

  const now = Date.now();
  const moved = new Set<number>();
  for (const ti of chosen) {
    const taskRetries = retries.get(ti.task_id);
    // Airflow: the retries come back; a task the DAG no longer has keeps what it had.
    const maxTries = taskRetries === undefined ? Math.max(ti.max_tries, ti.try_number) : ti.try_number + taskRetries;
    const running = ti.state === "running";
    const update = await trx
      .updateTable("task_instance")
      .set({
        state: running ? "restarting" : null,
        max_tries: maxTries,
        next_try_at: null,
        queued_at: null,
        updated_at: now,
        ...(running ? {} : { start_date: null, end_date: null, duration_ms: null }),
      })
      .where("id", "=", ti.id)
      // Conditional: an instance that moved since it was read is left to its new owner.
      .where("state", "=", ti.state!)
      .executeTakeFirst();
    if (Number(update.numUpdatedRows) === 0) continue;
    moved.add(ti.id);
    await logEvent(trx, actor, "clear", { dagId: run.dag_id, runId: run.run_id, taskId: ti.task_id }, { from: ti.state, to: running ? "restarting" : null });
  }
  // As Airflow: a cleared sensor's earlier checks are forgotten, so its timeout counts from its next check.
  for (const part of chunks([...moved])) await trx.deleteFrom("task_reschedule").where("ti_id", "in", part).execute();
  // Only what this call changed: an instance that moved meanwhile was left alone.
  result.cleared = cleared.filter((_, i) => moved.has(chosen[i]!.id));
  if (moved.size === 0) result.runState.to = run.state;
  if (runFinished && moved.size > 0) {
    await trx
      .updateTable("dag_run")
      .set({ state: "queued", queued_at: now, start_date: null, end_date: null })
      .where("id", "=", run.id)
      .where("state", "in", ["success", "failed"])
      .execute();
    await logEvent(trx, actor, "clear_run_state", { dagId: run.dag_id, runId: run.run_id }, { from: run.state, to: "queued" });
  }
  return result;
}
