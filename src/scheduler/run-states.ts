/**
 * The task instance states of running DAG runs, kept in the scheduler's memory so that a finished try
 * costs an in-memory look at its run instead of reading the whole run back from the DB. The scheduler
 * reloads it from the DB on every tick, which also picks up changes made by others (CLI, API); its
 * own writes are conditional, so a decision made on a state that was stale for a moment is harmless.
 */
import type { Store } from "../store/db.js";
import type { TaskState } from "../store/schema.js";
import { chunks } from "../util/chunks.js";
import type { TiStateRow } from "./task-evaluation.js";

interface RunEntry {
  dagId: string;
  /** The DAG version the run started with (null: none recorded). */
  versionId: number | null;
  tis: TiStateRow[];
}

export class RunStates {
  private readonly runs = new Map<number, RunEntry>();
  private readonly byTi = new Map<number, { runId: number; row: TiStateRow }>();

  /** Reads the given running runs (all running runs when `runIds` is omitted) from the DB. */
  async load(store: Store, runIds?: number[]): Promise<number[]> {
    let query = store.db.selectFrom("dag_run").select(["id", "dag_id", "dag_version_id"]).where("state", "=", "running");
    if (runIds) {
      if (runIds.length === 0) return [];
      query = query.where("id", "in", runIds);
    }
    const runs = await query.execute();
    if (!runIds) this.clear();
    for (const part of chunks(runs, 200)) {
      const tis = await store.db
        .selectFrom("task_instance")
        .select(["id", "dag_run_id", "task_id", "map_index", "state", "next_try_at"])
        .where("dag_run_id", "in", part.map((r) => r.id))
        .execute();
      for (const run of part) this.drop(run.id);
      for (const run of part) this.runs.set(run.id, { dagId: run.dag_id, versionId: run.dag_version_id, tis: [] });
      for (const ti of tis) {
        const row: TiStateRow = { id: ti.id, task_id: ti.task_id, map_index: ti.map_index, state: ti.state, next_try_at: ti.next_try_at };
        this.runs.get(ti.dag_run_id)!.tis.push(row);
        this.byTi.set(ti.id, { runId: ti.dag_run_id, row });
      }
    }
    return runs.map((r) => r.id);
  }

  get(runId: number): RunEntry | undefined {
    return this.runs.get(runId);
  }

  has(runId: number): boolean {
    return this.runs.has(runId);
  }

  /** Records a state the scheduler or the executor wrote; returns the task instance's run. */
  set(tiId: number, state: TaskState | null): number | undefined {
    const entry = this.byTi.get(tiId);
    if (!entry) return undefined;
    entry.row.state = state;
    if (state !== "up_for_retry" && state !== "up_for_reschedule") entry.row.next_try_at = null;
    return entry.runId;
  }

  setNextTry(tiId: number, at: number): void {
    const entry = this.byTi.get(tiId);
    if (entry) entry.row.next_try_at = at;
  }

  anyScheduled(): boolean {
    for (const { row } of this.byTi.values()) if (row.state === "scheduled") return true;
    return false;
  }

  drop(runId: number): void {
    const entry = this.runs.get(runId);
    if (!entry) return;
    for (const ti of entry.tis) this.byTi.delete(ti.id);
    this.runs.delete(runId);
  }

  private clear(): void {
    this.runs.clear();
    this.byTi.clear();
  }
}
