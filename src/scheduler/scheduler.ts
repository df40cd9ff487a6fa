/**
 * The scheduling loop. It runs when something happened (a try ended, a run was triggered) and at
 * least every `tickMs`: create runs that are due, start queued runs, move task instances on by their
 * trigger rules, finish runs, and hand ready tries to the executor. Every write it makes is a fenced
 * transaction (see lease.ts), so a scheduler that lost its lease stops instead of committing.
 */
import { EventEmitter } from "node:events";
import type { Kysely, Transaction } from "kysely";
import { DAG_DEFAULTS } from "../dag/serialize.js";
import { StaleEpochError } from "../errors.js";
import type { Executor } from "../executor/executor.js";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { dbTime } from "../store/db-clock.js";
import { TERMINAL_TASK_STATES, type Database } from "../store/schema.js";
import { chunks } from "../util/chunks.js";
import { DagCache } from "./dag-cache.js";
import { previousRunStates } from "./depends-on-past.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { createAssetTriggeredRuns } from "./assets.js";
import { completeBackfills } from "./backfill.js";
import { DEFAULT_MAX_MAP_LENGTH, expandMappedTasks } from "./mapping.js";
import { createScheduledRuns, startQueuedRuns } from "./runs.js";
import { failTimedOutRuns } from "./run-timeouts.js";
import { RunStates } from "./run-states.js";
import { evaluateRun, type RunEvaluation } from "./task-evaluation.js";
import { queueScheduledTasks, tryRequests } from "./task-queueing.js";
import { requestDagCallback } from "./structure.js";
import type { SerializedDag } from "../dag/types.js";

type Db = Kysely<Database> | Transaction<Database>;

export interface SchedulerOptions {
  store: Store;
  lease: LeaseHandle;
  executor: Executor;
  logger: Logger;
  /** Longest pause between two passes of the loop. Default 1000 ms. */
  tickMs?: number;
  /** Most instances one mapped task may expand into (config max_map_length). Default 1024. */
  maxMapLength?: number;
}

export interface SchedulerEvents {
  /** A DAG run reached success or failed. */
  runFinished: [runId: number, state: "success" | "failed"];
  /** Another scheduler holds a newer lease: this one stopped. */
  deposed: [error: StaleEpochError];
  /** A pass of the loop ended without error: the loop is alive (the HA controller's heartbeat). */
  /** A pass ended; it took this long. */
  passed: [durationMs: number];
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly cache: DagCache;
  private readonly dirtyRuns = new Set<number>();
  private readonly runStates = new RunStates();
  private allRunsDirty = true;
  /** Run creation and DAG refresh: on ticks and explicit wakes, not on every finished try. */
  private housekeepingDue = true;
  private wakeScheduled = false;
  private passRunning = false;
  private passRequested = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private idle: Promise<void> = Promise.resolve();
  private consecutiveErrors = 0;

  constructor(private readonly options: SchedulerOptions) {
    super();
    this.cache = new DagCache(options.store, options.logger);
    options.executor.onTriesFinished((finished) => {
      for (const ti of finished) {
        const run = this.runStates.set(ti.tiId, ti.state);
        if (ti.nextTryAt !== undefined) this.runStates.setNextTry(ti.tiId, ti.nextTryAt);
        if (run !== undefined) this.dirtyRuns.add(run);
      }
      this.schedulePass();
    });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.allRunsDirty = true;
      this.wake();
    }, this.options.tickMs ?? 1_000);
    this.wake();
  }

  /** Runs a full pass soon (new runs, changed DAGs): for triggers and new parses. */
  wake(): void {
    this.housekeepingDue = true;
    this.schedulePass();
  }

  /** Runs a pass of the loop soon; calls made together share one pass. */
  private schedulePass(): void {
    if (this.stopped || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      void this.runPass();
    });
  }

  /** Stops the loop after the pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle;
  }

  private async runPass(): Promise<void> {
    if (this.passRunning) {
      this.passRequested = true;
      return;
    }
    this.passRunning = true;
    let finish!: () => void;
    this.idle = new Promise((r) => (finish = r));
    try {
      do {
        this.passRequested = false;
        const startedAt = performance.now();
        await this.pass();
        this.consecutiveErrors = 0;
        this.emit("passed", performance.now() - startedAt);
      } while (this.passRequested && !this.stopped);
    } catch (error) {
      if (error instanceof StaleEpochError) {
        this.options.logger.error({ err: error.message }, "scheduler deposed; stopping");
        this.stopped = true;
        if (this.timer) clearInterval(this.timer);
        this.emit("deposed", error);
      } else {
        this.consecutiveErrors++;
        this.allRunsDirty = true;
        this.housekeepingDue = true;
        this.options.logger.error(
          { err: (error as Error).message, consecutive: this.consecutiveErrors },
          "scheduling pass failed; trying again at the next tick",
        );
      }
    } finally {
      this.passRunning = false;
      finish();
    }
  }

  private async pass(): Promise<void> {
    const { store, lease, executor, logger } = this.options;
    const housekeeping = this.housekeepingDue;
    const now = await dbTime(store);
    if (housekeeping) {
      this.housekeepingDue = false;
      this.cache.markStale();
      await createScheduledRuns(store, lease, this.cache, now);
      await createAssetTriggeredRuns(store, lease, this.cache, now);
      for (const id of await failTimedOutRuns(store, lease, this.cache, now)) {
        this.runStates.drop(id);
        logger.info({ dag_run_id: id, state: "failed" }, "DAG run timed out (dagrunTimeout)");
        this.emit("runFinished", id, "failed");
      }
      await completeBackfills(store, lease, now);
      for (const id of await startQueuedRuns(store, lease, this.cache, now)) this.dirtyRuns.add(id);
    }
    const evaluations = await this.evaluateRuns(now);
    // Between ticks only this scheduler makes tasks scheduled, so memory says whether to look.
    const freeSlots = executor.freeSlots();
    const lookForWork =
      freeSlots > 0 && (housekeeping || this.runStates.anyScheduled() || evaluations.some((e) => e.evaluation.fromNone.has("scheduled") || e.evaluation.retriesDue.length > 0));
    if (evaluations.length === 0 && !lookForWork) return;

    // One fenced transaction moves the runs on and queues what became ready.
    const maxMapLength = this.options.maxMapLength ?? DEFAULT_MAX_MAP_LENGTH;
    const { finished, queued } = await fenced(store, lease, async (trx) => {
      const finished = await writeEvaluations(trx, evaluations, now);
      for (const [runId, state] of finished) {
        const dag = evaluations.find((e) => e.runId === runId)?.dag;
        if (dag) await requestDagCallback(trx, dag, runId, state, now);
      }
      for (const { evaluation } of evaluations) {
        if (evaluation.toExpand) await expandMappedTasks(trx, evaluation.toExpand, now, maxMapLength);
      }
      const queued = lookForWork ? await queueScheduledTasks(trx, freeSlots, now, logger, (ids, db) => this.maxActiveTasks(ids, db)) : [];
      return { finished, queued };
    });

    for (const { evaluation } of evaluations) {
      for (const [state, ids] of evaluation.fromNone) for (const id of ids) this.runStates.set(id, state);
      for (const id of evaluation.retriesDue) this.runStates.set(id, "scheduled");
    }
    for (const [id] of finished) this.runStates.drop(id);
    // Expansion added task instances: read those runs back on the next pass.
    const expanded = evaluations.filter((e) => e.evaluation.toExpand).map((e) => e.runId);
    for (const id of expanded) {
      this.runStates.drop(id);
      this.dirtyRuns.add(id);
    }
    if (expanded.length > 0) this.schedulePass();
    // A finished run may let a queued one start.
    if (finished.length > 0) this.housekeepingDue = true;
    for (const [id, state] of finished) {
      logger.info({ dag_run_id: id, state }, "DAG run finished");
      this.emit("runFinished", id, state);
    }

    if (queued.length > 0) {
      const versions = queued.map((q) => ({ dagId: q.dag_id, versionId: q.dag_version_id }));
      const requests = tryRequests(queued, await this.cache.forRuns(versions));
      for (const r of requests) this.runStates.set(r.tiId, "queued");
      executor.submit(requests);
    }
  }

  private async maxActiveTasks(dagIds: string[], db: Db): Promise<Map<string, number>> {
    const dags = await this.cache.load(dagIds, db);
    return new Map([...dags].map(([id, cached]) => [id, cached.dag.maxActiveTasks ?? DAG_DEFAULTS.maxActiveTasks]));
  }

  /** What the trigger rules decide for the runs that changed (all running runs on a tick); nothing is written yet. */
  private async evaluateRuns(now: number): Promise<Array<{ runId: number; evaluation: RunEvaluation; dag?: SerializedDag }>> {
    const { store } = this.options;
    let runIds: number[];
    if (this.allRunsDirty) {
      // Every tick: read all running runs back, which also picks up changes made by others.
      this.allRunsDirty = false;
      this.dirtyRuns.clear();
      runIds = await this.runStates.load(store);
    } else {
      runIds = [...this.dirtyRuns];
      this.dirtyRuns.clear();
      await this.runStates.load(store, runIds.filter((id) => !this.runStates.has(id)));
    }
    const runs = runIds.flatMap((id) => {
      const entry = this.runStates.get(id);
      return entry ? [{ id, ...entry }] : [];
    });
    if (runs.length === 0) return [];
    // Each run is evaluated on the DAG version it started with.
    const dagOf = await this.cache.forRuns(runs);
    const evaluations: Array<{ runId: number; evaluation: RunEvaluation; dag?: SerializedDag }> = [];
    for (const run of runs) {
      const cached = dagOf(run);
      if (!cached || cached.isPaused) continue;
      // The previous run only matters to instances still waiting to be scheduled.
      const usesPast = run.tis.some((ti) => {
        const task = cached.tasks.get(ti.task_id);
        return ti.state === null && (task?.dependsOnPast || task?.waitForDownstream);
      });
      const previous = usesPast ? await previousRunStates(store.db, run.id) : undefined;
      const evaluation = evaluateRun(cached.dag, run.tis, now, previous);
      if (evaluation.fromNone.size > 0 || evaluation.retriesDue.length > 0 || evaluation.runState || evaluation.toExpand) {
        evaluations.push({ runId: run.id, evaluation, dag: cached.dag });
      }
    }
    return evaluations;
  }
}

/** Writes what the trigger rules decided; returns the runs that finished. */
async function writeEvaluations(
  trx: Db,
  evaluations: Array<{ runId: number; evaluation: RunEvaluation }>,
  now: number,
): Promise<Array<[number, "success" | "failed"]>> {
  const finished: Array<[number, "success" | "failed"]> = [];
  for (const { runId, evaluation } of evaluations) {
    for (const [state, ids] of evaluation.fromNone) {
      const finishedNow = state !== "scheduled";
      for (const idPart of chunks(ids)) {
        await trx
          .updateTable("task_instance")
          .set({ state, updated_at: now, ...(finishedNow ? { start_date: now, end_date: now, duration_ms: 0 } : {}) })
          .where("id", "in", idPart)
          .where("state", "is", null)
          .execute();
      }
    }
    for (const idPart of chunks(evaluation.retriesDue)) {
      await trx
        .updateTable("task_instance")
        .set({ state: "scheduled", next_try_at: null, updated_at: now })
        .where("id", "in", idPart)
        .where("state", "in", ["up_for_retry", "up_for_reschedule"])
        .execute();
    }
    if (evaluation.runState) {
      const result = await trx
        .updateTable("dag_run")
        .set({ state: evaluation.runState, end_date: now })
        .where("id", "=", runId)
        .where("state", "=", "running")
        // Memory may be a tick behind a change made by hand (a task cleared): finish only if the DB agrees.
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom("task_instance")
                .select("id")
                .where("dag_run_id", "=", runId)
                .where((eb) => eb.or([eb("state", "is", null), eb("state", "not in", TERMINAL_TASK_STATES)])),
            ),
          ),
        )
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) finished.push([runId, evaluation.runState]);
    }
  }
  return finished;
}
