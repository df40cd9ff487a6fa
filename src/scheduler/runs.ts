/** Creating DAG runs (from schedules and by hand) and starting queued ones. */
import { type Insertable, type Kysely, type Transaction } from "kysely";
import type { SerializedDag } from "../dag/types.js";
import { NotFoundError, UsageError } from "../errors.js";
import type { Store } from "../store/db.js";
import type { Database, DagRunRow, DagRunTable, RunType } from "../store/schema.js";
import { nextDagRun, timetableOf } from "../timetable/schedule.js";
import { manualDataInterval, type PlannedRun } from "../timetable/timetable.js";
import { chunks } from "../util/chunks.js";
import type { DagCache } from "./dag-cache.js";
import { backfillLimits, runningBackfillRuns } from "./backfill.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { priorityWeights } from "./priority.js";
import { validateRunConf } from "./run-params.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Throws the CLI's "unknown DAG" error unless the DAG exists. */
export async function requireDag(db: Db, dagId: string): Promise<void> {
  const dag = await db.selectFrom("dag").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst();
  if (!dag) throw unknownDag(dagId);
}

/** The DAG as last deployed; throws the CLI's "unknown DAG" error unless it exists. */
export async function requireSerializedDag(db: Db, dagId: string): Promise<SerializedDag> {
  return (await requireCurrentDag(db, dagId)).dag;
}

/** The DAG's current version (what a new run records) and its serialized form; throws unless the DAG exists. */
export async function requireCurrentDag(db: Db, dagId: string): Promise<{ dag: SerializedDag; versionId: number | null }> {
  const row = await db.selectFrom("dag").select(["serialized", "dag_version_id"]).where("dag_id", "=", dagId).executeTakeFirst();
  if (!row) throw unknownDag(dagId);
  return { dag: JSON.parse(row.serialized) as SerializedDag, versionId: row.dag_version_id };
}

const unknownDag = (dagId: string) => new NotFoundError(`DAG '${dagId}' does not exist: see 'aloft dags list' for the DAG ids`);

/** The run of a DAG with this run id, if there is one. */
export function findRun(db: Db, dagId: string, runId: string): Promise<DagRunRow | undefined> {
  return db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).executeTakeFirst();
}

/** Runs of a DAG in the given states; backfill runs count against their backfill's limit, not the DAG's. */
async function countRuns(db: Db, dagId: string, states: DagRunRow["state"][]): Promise<number> {
  const row = await db
    .selectFrom("dag_run")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("dag_id", "=", dagId)
    .where("state", "in", states)
    .where("backfill_id", "is", null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** What differs between the ways a run is created (manual, scheduled, backfill, asset-triggered). */
export interface NewRun {
  dag_id: string;
  run_id: string;
  run_type: RunType;
  logical_date: number;
  data_interval_start: number;
  data_interval_end: number;
  run_after: number;
  /** JSON object. Default "{}". */
  conf?: string;
  backfill_id?: number;
  /** The DAG's current version: the run keeps it to the end (null when the DAG has none yet). */
  dag_version_id: number | null;
}

/** The row of a new run: queued now, not started; the scheduler starts it. */
export function queuedRunRow(run: NewRun, now: number): Insertable<DagRunTable> {
  return { conf: "{}", ...run, state: "queued", queued_at: now, start_date: null, end_date: null, created_at: now };
}

export function runIdFor(runType: RunType, logicalDate: number): string {
  return `${runType}__${new Date(logicalDate).toISOString()}`;
}

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  /** Default: now. */
  logicalDate?: number;
  runId?: string;
  /** Default: what the DAG's timetable gives a manual run at its logical date. */
  dataInterval?: { start: number; end: number };
  /** Recorded on the run; default: now. The scheduler does not wait for it: a manual run starts when it can. */
  runAfter?: number;
}

/**
 * Queues a manual run of a DAG; the scheduler starts it. Not a scheduling decision, so it needs no
 * lease: the CLI and the API may call it while a scheduler runs.
 */
export async function triggerDagRun(store: Store, dagId: string, options: TriggerOptions = {}): Promise<DagRunRow> {
  const { dag, versionId } = await requireCurrentDag(store.db, dagId);
  validateRunConf(dag, options.conf ?? {});
  const now = Date.now();
  const logicalDate = options.logicalDate ?? now;
  // An interval DAG's manual run covers the last complete interval before its logical date, as in Airflow.
  const interval = options.dataInterval
    ? { start: new Date(options.dataInterval.start), end: new Date(options.dataInterval.end) }
    : manualDataInterval(timetableOf(dag), new Date(logicalDate));
  const runId = options.runId ?? runIdFor("manual", logicalDate);
  if (await findRun(store.db, dagId, runId)) throw new UsageError(`DAG '${dagId}' already has a run '${runId}': give another run id or logical date`);
  await store.db
    .insertInto("dag_run")
    .values(
      queuedRunRow(
        {
          dag_id: dagId,
          run_id: runId,
          run_type: "manual",
          logical_date: logicalDate,
          data_interval_start: interval.start.getTime(),
          data_interval_end: interval.end.getTime(),
          run_after: options.runAfter ?? now,
          conf: JSON.stringify(options.conf ?? {}),
          dag_version_id: versionId,
        },
        now,
      ),
    )
    .execute();
  return (await findRun(store.db, dagId, runId))!;
}

/** Creates the runs whose scheduled time has come, within each DAG's max active runs. */
export async function createScheduledRuns(store: Store, lease: LeaseHandle, cache: DagCache, now: number): Promise<number> {
  const due = await store.db
    .selectFrom("dag")
    .select(["dag_id", "next_dagrun_logical_date", "next_dagrun_create_after", "next_dagrun_data_interval_start", "next_dagrun_data_interval_end"])
    .where("is_paused", "=", 0)
    .where("is_active", "=", 1)
    .where("next_dagrun_create_after", "<=", now)
    .execute();
  if (due.length === 0) return 0;
  const dags = await cache.load(due.map((d) => d.dag_id));
  let created = 0;
  for (const row of due) {
    const cached = dags.get(row.dag_id);
    if (!cached || row.next_dagrun_logical_date === null) continue;
    const active = await countRuns(store.db, row.dag_id, ["queued", "running"]);
    if (active >= cached.dag.maxActiveRuns) continue;
    const logicalDate = row.next_dagrun_logical_date;
    const interval = {
      start: row.next_dagrun_data_interval_start ?? logicalDate,
      // A continuous run covers the time up to its creation, which may come long after it was planned.
      end: timetableOf(cached.dag).spec.kind === "continuous" ? Math.max(now, logicalDate) : (row.next_dagrun_data_interval_end ?? logicalDate),
    };
    await fenced(store, lease, async (trx) => {
      const runId = runIdFor("scheduled", logicalDate);
      if (!(await findRun(trx, row.dag_id, runId))) {
        await trx
          .insertInto("dag_run")
          .values(
            queuedRunRow(
              {
                dag_id: row.dag_id,
                run_id: runId,
                run_type: "scheduled",
                logical_date: logicalDate,
                data_interval_start: interval.start,
                data_interval_end: interval.end,
                run_after: row.next_dagrun_create_after ?? logicalDate,
                dag_version_id: cached.versionId,
              },
              now,
            ),
          )
          .execute();
        created++;
      }
      const next = nextDagRun(cached.dag, { start: new Date(interval.start), end: new Date(interval.end) }, new Date(now));
      await trx
        .updateTable("dag")
        .set(nextRunColumns(next))
        .where("dag_id", "=", row.dag_id)
        .where("next_dagrun_logical_date", "=", logicalDate)
        .execute();
    });
  }
  return created;
}

/** The dag row's columns describing its next automated run. */
export function nextRunColumns(next: PlannedRun | null) {
  return {
    next_dagrun_logical_date: next?.logicalDate.getTime() ?? null,
    next_dagrun_create_after: next?.runAfter.getTime() ?? null,
    next_dagrun_data_interval_start: next?.dataIntervalStart.getTime() ?? null,
    next_dagrun_data_interval_end: next?.dataIntervalEnd.getTime() ?? null,
  };
}

/** The next automated run of a DAG, after the data interval of its latest scheduled run; stored on the dag row. */
export async function planNextRun(db: Db, dag: SerializedDag, now: number): Promise<PlannedRun | null> {
  const last = await db
    .selectFrom("dag_run")
    .select(["data_interval_start", "data_interval_end"])
    .where("dag_id", "=", dag.dagId)
    .where("run_type", "=", "scheduled")
    .orderBy("logical_date", "desc")
    .limit(1)
    .executeTakeFirst();
  const interval = last ? { start: new Date(Number(last.data_interval_start)), end: new Date(Number(last.data_interval_end)) } : null;
  return nextDagRun(dag, interval, new Date(now));
}

/** Moves queued runs of unpaused DAGs to running, oldest logical date first, creating their task instances. */
export async function startQueuedRuns(store: Store, lease: LeaseHandle, cache: DagCache, now: number): Promise<number[]> {
  const queuedRows = await store.db
    .selectFrom("dag_run")
    .select(["id", "dag_id", "run_id", "backfill_id", "dag_version_id"])
    .where("state", "=", "queued")
    .orderBy("logical_date")
    .orderBy("id")
    .execute();
  if (queuedRows.length === 0) return [];
  // Backfill runs are limited by their backfill (paused, max active runs), not by the DAG's limit.
  const backfills = await backfillLimits(store.db, [...new Set(queuedRows.flatMap((r) => (r.backfill_id === null ? [] : [Number(r.backfill_id)])))]);
  const backwards = queuedRows.filter((r) => r.backfill_id !== null && backfills.get(Number(r.backfill_id))?.runBackwards).reverse();
  const backwardIds = new Set(backwards.map((r) => r.id));
  const queued = [...queuedRows.filter((r) => !backwardIds.has(r.id)), ...backwards];
  // Limits are the DAG's as deployed now; the task instances are those of the run's version.
  const dags = await cache.load(queued.map((r) => r.dag_id));
  const versionOf = await cache.forRuns(queued.map((r) => ({ dagId: r.dag_id, versionId: r.dag_version_id })));
  const running = new Map<string, number>();
  const started: number[] = [];
  for (const run of queued) {
    const current = dags.get(run.dag_id);
    const cached = versionOf({ dagId: run.dag_id, versionId: run.dag_version_id });
    if (!current || !cached || current.isPaused) continue;
    const backfill = run.backfill_id === null ? undefined : backfills.get(Number(run.backfill_id));
    if (backfill?.paused) continue;
    const limitKey = backfill ? `backfill:${run.backfill_id}` : run.dag_id;
    if (!running.has(limitKey)) {
      running.set(limitKey, backfill ? await runningBackfillRuns(store.db, Number(run.backfill_id)) : await countRuns(store.db, run.dag_id, ["running"]));
    }
    if (running.get(limitKey)! >= (backfill ? backfill.maxActiveRuns : current.dag.maxActiveRuns)) continue;
    const weights = priorityWeights(cached.dag);
    await fenced(store, lease, async (trx) => {
      const moved = await trx
        .updateTable("dag_run")
        // A run with no version recorded (or a pruned one) takes the version it starts on.
        .set({ state: "running", start_date: now, dag_version_id: cached.versionId })
        .where("id", "=", run.id)
        .where("state", "=", "queued")
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return;
      // A cleared run comes back queued with its task instances: only tasks new to the DAG get one.
      const existing = new Set(
        (await trx.selectFrom("task_instance").select("task_id").where("dag_run_id", "=", run.id).execute()).map((r) => r.task_id),
      );
      const rows = cached.dag.tasks.filter((task) => !existing.has(task.taskId)).map((task) => ({
        dag_run_id: run.id,
        dag_id: run.dag_id,
        run_id: run.run_id,
        task_id: task.taskId,
        map_index: -1,
        state: null,
        try_number: 0,
        max_tries: task.retries,
        operator: task.kind,
        queue: task.queue,
        pool: task.pool,
        pool_slots: task.poolSlots,
        priority_weight: weights.get(task.taskId) ?? task.priorityWeight,
        updated_at: now,
      }));
      for (const part of chunks(rows, 500)) await trx.insertInto("task_instance").values(part).execute();
    });
    running.set(limitKey, running.get(limitKey)! + 1);
    started.push(run.id);
  }
  return started;
}
