/**
 * Backfills, as in Airflow 3: the runs for the DAG's schedule within [from, to] are created up front
 * (run_type "backfill", owned by the backfill) and the scheduler starts them within the backfill's own
 * max active runs, oldest first or newest first. Existing runs are skipped or re-run according to
 * `reprocess`. Pausing stops starting runs; cancelling also fails the runs not started yet.
 */
import type { Kysely, Transaction } from "kysely";
import { NotFoundError, UsageError } from "../errors.js";
import type { Store } from "../store/db.js";
import type { BackfillReprocess, BackfillRow, Database, DagRunRow } from "../store/schema.js";
import { timetableOf } from "../timetable/schedule.js";
import { MAX_BACKFILL_RUNS, runsBetween } from "../timetable/timetable.js";
import { chunks } from "../util/chunks.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { queuedRunRow, requireCurrentDag, runIdFor } from "./runs.js";
import { validateRunConf } from "./run-params.js";

type Db = Kysely<Database> | Transaction<Database>;

export const REPROCESS_CHOICES: readonly BackfillReprocess[] = ["none", "failed", "completed"];

export interface BackfillRequest {
  dagId: string;
  from: number;
  to: number;
  /** Runs of the backfill running at once. Default 10 (Airflow's default). */
  maxActiveRuns?: number;
  /** Default "none": dates that already have a run are skipped. */
  reprocess?: BackfillReprocess;
  /** Start the newest runs first. Default false. */
  runBackwards?: boolean;
  conf?: Record<string, unknown>;
  /** Only say what would be done. */
  dryRun?: boolean;
}

/** What a backfill does for one logical date. */
export interface BackfillDate {
  logical_date: number;
  data_interval_start: number;
  data_interval_end: number;
  /** "create": a new run; "reprocess": the existing run runs again; "skip": the existing run is kept. */
  action: "create" | "reprocess" | "skip";
  /** The state of the run the date already had. */
  existing_state: DagRunRow["state"] | null;
}

export interface BackfillPlan {
  backfill: BackfillRow | null;
  dates: BackfillDate[];
}

export const DEFAULT_BACKFILL_MAX_ACTIVE_RUNS = 10;

/** Plans a backfill and, unless it is a dry run, creates it with its runs. */
export async function createBackfill(store: Store, request: BackfillRequest): Promise<BackfillPlan> {
  const { dagId, from, to } = request;
  const reprocess = request.reprocess ?? "none";
  if (from > to) {
    throw new UsageError(`--from (${new Date(from).toISOString()}) is after --to (${new Date(to).toISOString()}): swap them`);
  }
  const { dag, versionId } = await requireCurrentDag(store.db, dagId);
  // Every run of the backfill gets this conf: check it against the DAG's params once, up front.
  validateRunConf(dag, request.conf ?? {});
  const tt = timetableOf(dag);
  if (tt.spec.kind !== "cron" && tt.spec.kind !== "every") {
    throw new UsageError(
      `DAG '${dagId}' has no time-based schedule (schedule ${tt.spec.kind === "none" ? "null" : tt.spec.kind}): ` +
        "backfill needs a cron, preset or { every } schedule; use 'aloft dags trigger' for single runs",
    );
  }
  const planned = runsBetween(tt, new Date(from), new Date(to), MAX_BACKFILL_RUNS + 1);
  if (planned.length > MAX_BACKFILL_RUNS) {
    throw new UsageError(`the range holds more than ${MAX_BACKFILL_RUNS} runs of DAG '${dagId}': backfill a shorter range at a time`);
  }
  if (planned.length === 0) {
    throw new UsageError(
      `no run of DAG '${dagId}' has a logical date from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}: widen the range`,
    );
  }

  const existing = new Map<number, DagRunRow>();
  for (const part of chunks(planned.map((p) => p.logicalDate.getTime()))) {
    const rows = await store.db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).where("logical_date", "in", part).execute();
    for (const row of rows) if (!existing.has(row.logical_date) || row.run_type !== "manual") existing.set(row.logical_date, row);
  }
  const dates: BackfillDate[] = planned.map((p) => {
    const run = existing.get(p.logicalDate.getTime());
    return {
      logical_date: p.logicalDate.getTime(),
      data_interval_start: p.dataIntervalStart.getTime(),
      data_interval_end: p.dataIntervalEnd.getTime(),
      action: actionFor(run?.state ?? null, reprocess),
      existing_state: run?.state ?? null,
    };
  });
  if (request.dryRun) return { backfill: null, dates };

  const now = Date.now();
  const backfill = await store.transaction(async (trx) => {
    await trx
      .insertInto("backfill")
      .values({
        dag_id: dagId,
        from_date: from,
        to_date: to,
        max_active_runs: request.maxActiveRuns ?? DEFAULT_BACKFILL_MAX_ACTIVE_RUNS,
        reprocess,
        run_backwards: request.runBackwards ? 1 : 0,
        is_paused: 0,
        conf: JSON.stringify(request.conf ?? {}),
        created_at: now,
        completed_at: null,
        cancelled_at: null,
      })
      .execute();
    const row = await trx.selectFrom("backfill").selectAll().where("dag_id", "=", dagId).where("created_at", "=", now).orderBy("id", "desc").executeTakeFirstOrThrow();
    const fresh = dates.filter((d) => d.action === "create");
    for (const part of chunks(fresh, 500)) {
      await trx
        .insertInto("dag_run")
        .values(
          part.map((d) =>
            queuedRunRow(
              {
                dag_id: dagId,
                run_id: runIdFor("backfill", d.logical_date),
                run_type: "backfill",
                logical_date: d.logical_date,
                data_interval_start: d.data_interval_start,
                data_interval_end: d.data_interval_end,
                run_after: now,
                conf: row.conf,
                backfill_id: row.id,
                dag_version_id: versionId,
              },
              now,
            ),
          ),
        )
        .execute();
    }
    const again = dates.filter((d) => d.action === "reprocess").map((d) => existing.get(d.logical_date)!.id);
    for (const part of chunks(again)) await resetRuns(trx, part, row.id, versionId, now);
    return row;
  });
  return { backfill, dates };
}

function actionFor(state: DagRunRow["state"] | null, reprocess: BackfillReprocess): BackfillDate["action"] {
  if (state === null) return "create";
  // A run in flight cannot be re-run.
  if (state === "queued" || state === "running") return "skip";
  if (reprocess === "completed" || (reprocess === "failed" && state === "failed")) return "reprocess";
  return "skip";
}

/**
 * Queues finished runs again under a backfill. Their task instances (and results) are removed, so the
 * scheduler creates fresh ones, of the DAG's current version, when it starts the run; the old tries'
 * rows stay as history.
 */
async function resetRuns(trx: Db, runIds: number[], backfillId: number, versionId: number | null, now: number): Promise<void> {
  const tis = (await trx.selectFrom("task_instance").select("id").where("dag_run_id", "in", runIds).execute()).map((t) => t.id);
  for (const part of chunks(tis)) {
    await trx.deleteFrom("xcom").where("ti_id", "in", part).execute();
    await trx.deleteFrom("task_instance").where("id", "in", part).execute();
  }
  await trx
    .updateTable("dag_run")
    .set({ state: "queued", backfill_id: backfillId, queued_at: now, start_date: null, end_date: null, dag_version_id: versionId })
    .where("id", "in", runIds)
    .execute();
}

export interface BackfillProgress {
  id: number;
  dag_id: string;
  from_date: string;
  to_date: string;
  reprocess: BackfillReprocess;
  max_active_runs: number;
  run_backwards: boolean;
  state: "running" | "paused" | "completed" | "cancelled";
  total: number;
  success: number;
  failed: number;
  running: number;
  queued: number;
  created_at: string;
  completed_at: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Backfills (of one DAG, or all), newest first, with their runs counted by state. */
export async function listBackfills(db: Db, dagId?: string, id?: number): Promise<BackfillProgress[]> {
  let query = db.selectFrom("backfill").selectAll().orderBy("id", "desc");
  if (dagId !== undefined) query = query.where("dag_id", "=", dagId);
  if (id !== undefined) query = query.where("id", "=", id);
  const rows = await query.execute();
  if (rows.length === 0) return [];
  const counts = await db
    .selectFrom("dag_run")
    .select((eb) => ["backfill_id", "state", eb.fn.countAll<number>().as("n")])
    .where("backfill_id", "in", rows.map((r) => r.id))
    .groupBy(["backfill_id", "state"])
    .execute();
  return rows.map((b) => {
    const count = (state: string) => Number(counts.find((c) => Number(c.backfill_id) === b.id && c.state === state)?.n ?? 0);
    const [success, failed, running, queued] = [count("success"), count("failed"), count("running"), count("queued")];
    return {
      id: b.id,
      dag_id: b.dag_id,
      from_date: iso(b.from_date)!,
      to_date: iso(b.to_date)!,
      reprocess: b.reprocess,
      max_active_runs: b.max_active_runs,
      run_backwards: b.run_backwards === 1,
      state: b.cancelled_at !== null ? "cancelled" : b.completed_at !== null ? "completed" : b.is_paused === 1 ? "paused" : "running",
      total: success + failed + running + queued,
      success,
      failed,
      running,
      queued,
      created_at: iso(b.created_at)!,
      completed_at: iso(b.completed_at),
    };
  });
}

export async function requireBackfill(db: Db, id: number): Promise<BackfillRow> {
  const row = await db.selectFrom("backfill").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw new NotFoundError(`backfill ${id} does not exist: see 'aloft backfill list' for the ids`);
  return row;
}

/** Pauses (no new runs start) or unpauses a backfill that has not completed. */
export async function setBackfillPaused(store: Store, id: number, paused: boolean): Promise<void> {
  const row = await requireBackfill(store.db, id);
  if (row.completed_at !== null) throw new UsageError(`backfill ${id} has already ${row.cancelled_at !== null ? "been cancelled" : "completed"}`);
  await store.db.updateTable("backfill").set({ is_paused: paused ? 1 : 0 }).where("id", "=", id).execute();
}

/** Cancels a backfill: no more runs start and the queued ones are marked failed; running ones finish. */
export async function cancelBackfill(store: Store, id: number): Promise<number> {
  const row = await requireBackfill(store.db, id);
  if (row.completed_at !== null) throw new UsageError(`backfill ${id} has already ${row.cancelled_at !== null ? "been cancelled" : "completed"}`);
  const now = Date.now();
  return store.transaction(async (trx) => {
    await trx.updateTable("backfill").set({ cancelled_at: now, completed_at: now, is_paused: 1 }).where("id", "=", id).execute();
    const failed = await trx
      .updateTable("dag_run")
      .set({ state: "failed", end_date: now })
      .where("backfill_id", "=", id)
      .where("state", "=", "queued")
      .executeTakeFirst();
    return Number(failed.numUpdatedRows);
  });
}

/** Marks backfills whose runs have all finished as completed. */
export async function completeBackfills(store: Store, lease: LeaseHandle, now: number): Promise<void> {
  const open = await store.db.selectFrom("backfill").select("id").where("completed_at", "is", null).execute();
  if (open.length === 0) return;
  const busy = new Set(
    (
      await store.db
        .selectFrom("dag_run")
        .select("backfill_id")
        .distinct()
        .where("backfill_id", "in", open.map((b) => b.id))
        .where("state", "in", ["queued", "running"])
        .execute()
    ).map((r) => Number(r.backfill_id)),
  );
  const done = open.map((b) => b.id).filter((id) => !busy.has(id));
  if (done.length === 0) return;
  await fenced(store, lease, (trx) => trx.updateTable("backfill").set({ completed_at: now }).where("id", "in", done).where("completed_at", "is", null).execute());
}

/** What the scheduler needs to know about the backfills of queued runs. */
export interface BackfillLimits {
  paused: boolean;
  maxActiveRuns: number;
  runBackwards: boolean;
}

export async function backfillLimits(db: Db, ids: number[]): Promise<Map<number, BackfillLimits>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom("backfill").select(["id", "is_paused", "max_active_runs", "run_backwards"]).where("id", "in", ids).execute();
  return new Map(rows.map((r) => [r.id, { paused: r.is_paused === 1, maxActiveRuns: r.max_active_runs, runBackwards: r.run_backwards === 1 }]));
}

/** Running runs of a backfill. */
export async function runningBackfillRuns(db: Db, backfillId: number): Promise<number> {
  const row = await db
    .selectFrom("dag_run")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("backfill_id", "=", backfillId)
    .where("state", "=", "running")
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
