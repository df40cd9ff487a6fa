/** Creating DAG runs (from schedules and by hand) and starting queued ones. */
import { type Kysely, type Transaction } from "kysely";
import type { SerializedDag } from "../dag/types.js";
import { NotFoundError, UsageError } from "../errors.js";
import type { Store } from "../store/db.js";
import type { Database, DagRunRow, RunType } from "../store/schema.js";
import { nextDagRun } from "../timetable/schedule.js";
import { chunks } from "../util/chunks.js";
import type { DagCache } from "./dag-cache.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { downstreamWeights } from "./task-evaluation.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Throws the CLI's "unknown DAG" error unless the DAG exists. */
export async function requireDag(db: Db, dagId: string): Promise<void> {
  const dag = await db.selectFrom("dag").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst();
  if (!dag) throw new NotFoundError(`DAG '${dagId}' does not exist: see 'aloft dags list' for the DAG ids`);
}

/** The run of a DAG with this run id, if there is one. */
export function findRun(db: Db, dagId: string, runId: string): Promise<DagRunRow | undefined> {
  return db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).executeTakeFirst();
}

/** Runs of a DAG in the given states. */
async function countRuns(db: Db, dagId: string, states: DagRunRow["state"][]): Promise<number> {
  const row = await db
    .selectFrom("dag_run")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("dag_id", "=", dagId)
    .where("state", "in", states)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export function runIdFor(runType: RunType, logicalDate: number): string {
  return `${runType}__${new Date(logicalDate).toISOString()}`;
}

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  /** Default: now. */
  logicalDate?: number;
  runId?: string;
}

/**
 * Queues a manual run of a DAG; the scheduler starts it. Not a scheduling decision, so it needs no
 * lease: the CLI and the API may call it while a scheduler runs.
 */
export async function triggerDagRun(store: Store, dagId: string, options: TriggerOptions = {}): Promise<DagRunRow> {
  await requireDag(store.db, dagId);
  const now = Date.now();
  const logicalDate = options.logicalDate ?? now;
  const runId = options.runId ?? runIdFor("manual", logicalDate);
  if (await findRun(store.db, dagId, runId)) throw new UsageError(`DAG '${dagId}' already has a run '${runId}': give another run id or logical date`);
  await store.db
    .insertInto("dag_run")
    .values({
      dag_id: dagId,
      run_id: runId,
      run_type: "manual",
      state: "queued",
      logical_date: logicalDate,
      data_interval_start: logicalDate,
      data_interval_end: logicalDate,
      run_after: now,
      conf: JSON.stringify(options.conf ?? {}),
      queued_at: now,
      start_date: null,
      end_date: null,
      created_at: now,
    })
    .execute();
  return (await findRun(store.db, dagId, runId))!;
}

/** Creates the runs whose scheduled time has come, within each DAG's max active runs. */
export async function createScheduledRuns(store: Store, lease: LeaseHandle, cache: DagCache, now: number): Promise<number> {
  const due = await store.db
    .selectFrom("dag")
    .select(["dag_id", "next_dagrun_logical_date", "next_dagrun_create_after"])
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
    await fenced(store, lease, async (trx) => {
      const runId = runIdFor("scheduled", logicalDate);
      if (!(await findRun(trx, row.dag_id, runId))) {
        await trx
          .insertInto("dag_run")
          .values({
            dag_id: row.dag_id,
            run_id: runId,
            run_type: "scheduled",
            state: "queued",
            logical_date: logicalDate,
            data_interval_start: logicalDate,
            data_interval_end: logicalDate,
            run_after: row.next_dagrun_create_after ?? logicalDate,
            conf: "{}",
            queued_at: now,
            start_date: null,
            end_date: null,
            created_at: now,
          })
          .execute();
        created++;
      }
      const next = nextDagRun(cached.dag, new Date(logicalDate), new Date(now));
      await trx
        .updateTable("dag")
        .set({
          next_dagrun_logical_date: next ? next.logicalDate.getTime() : null,
          next_dagrun_create_after: next ? next.runAfter.getTime() : null,
        })
        .where("dag_id", "=", row.dag_id)
        .where("next_dagrun_logical_date", "=", logicalDate)
        .execute();
    });
  }
  return created;
}

/** The next automated run of a DAG, given the runs it already has; stored on the dag row. */
export async function planNextRun(db: Db, dag: SerializedDag, now: number) {
  const last = await db
    .selectFrom("dag_run")
    .select((eb) => eb.fn.max("logical_date").as("last"))
    .where("dag_id", "=", dag.dagId)
    .where("run_type", "=", "scheduled")
    .executeTakeFirst();
  const lastDate = last?.last === null || last?.last === undefined ? null : new Date(Number(last.last));
  return nextDagRun(dag, lastDate, new Date(now));
}

/** Moves queued runs of unpaused DAGs to running, oldest logical date first, creating their task instances. */
export async function startQueuedRuns(store: Store, lease: LeaseHandle, cache: DagCache, now: number): Promise<number[]> {
  const queued = await store.db
    .selectFrom("dag_run")
    .select(["id", "dag_id", "run_id"])
    .where("state", "=", "queued")
    .orderBy("logical_date")
    .orderBy("id")
    .execute();
  if (queued.length === 0) return [];
  const dags = await cache.load(queued.map((r) => r.dag_id));
  const running = new Map<string, number>();
  const started: number[] = [];
  for (const run of queued) {
    const cached = dags.get(run.dag_id);
    if (!cached || cached.isPaused) continue;
    if (!running.has(run.dag_id)) running.set(run.dag_id, await countRuns(store.db, run.dag_id, ["running"]));
    if (running.get(run.dag_id)! >= cached.dag.maxActiveRuns) continue;
    const weights = downstreamWeights(cached.dag);
    await fenced(store, lease, async (trx) => {
      const moved = await trx
        .updateTable("dag_run")
        .set({ state: "running", start_date: now })
        .where("id", "=", run.id)
        .where("state", "=", "queued")
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return;
      const rows = cached.dag.tasks.map((task) => ({
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
    running.set(run.dag_id, running.get(run.dag_id)! + 1);
    started.push(run.id);
  }
  return started;
}
