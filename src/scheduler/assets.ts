/**
 * Assets in the metadata DB: which DAGs are scheduled on which asset (kept by the DAG processor),
 * events recorded when tasks with outlets succeed, and the asset-triggered runs the scheduler creates
 * when a DAG's condition is satisfied by the events it has not consumed yet.
 */
import type { Kysely, Transaction } from "kysely";
import type { SerializedDag } from "../dag/types.js";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { conditionSatisfied, conditionUris } from "../timetable/asset-condition.js";
import { timetableOf } from "../timetable/schedule.js";
import { chunks, groupBy } from "../util/chunks.js";
import type { DagCache } from "./dag-cache.js";
import { fenced, type LeaseHandle } from "./lease.js";
import { findRun, queuedRunRow, runIdFor } from "./runs.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Records the assets the DAGs mention and which assets each DAG is scheduled on. */
export async function syncDagAssets(trx: Db, dags: SerializedDag[], now: number): Promise<void> {
  if (dags.length === 0) return;
  const mentioned = new Set<string>();
  for (const part of chunks(dags.map((d) => d.dagId))) await trx.deleteFrom("dag_schedule_asset").where("dag_id", "in", part).execute();
  for (const dag of dags) {
    const spec = timetableOf(dag).spec;
    const uris = spec.kind === "assets" ? conditionUris(spec.condition) : [];
    for (const uri of uris) mentioned.add(uri);
    if (uris.length > 0) await trx.insertInto("dag_schedule_asset").values(uris.map((uri) => ({ dag_id: dag.dagId, uri }))).execute();
    for (const task of dag.tasks) for (const uri of task.outlets ?? []) mentioned.add(uri);
  }
  await ensureAssets(trx, [...mentioned], now);
}

async function ensureAssets(trx: Db, uris: string[], now: number): Promise<void> {
  for (const part of chunks(uris)) {
    const known = new Set((await trx.selectFrom("asset").select("uri").where("uri", "in", part).execute()).map((r) => r.uri));
    const missing = part.filter((uri) => !known.has(uri));
    if (missing.length > 0) await trx.insertInto("asset").values(missing.map((uri) => ({ uri, created_at: now }))).execute();
  }
}

/** A task instance that succeeded and the assets it updated. */
export interface AssetUpdate {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  outlets: string[];
}

/**
 * Records an event for each outlet of each successful task and queues it for the DAGs scheduled on
 * that asset. Runs in the transaction that records the successes, so an event exists exactly when
 * its success does.
 */
export async function recordAssetEvents(trx: Db, updates: AssetUpdate[], now: number): Promise<void> {
  const withOutlets = updates.filter((u) => u.outlets.length > 0);
  if (withOutlets.length === 0) return;
  await ensureAssets(trx, [...new Set(withOutlets.flatMap((u) => u.outlets))], now);
  for (const u of withOutlets) {
    const source = { source_dag_id: u.dagId, source_run_id: u.runId, source_task_id: u.taskId, source_map_index: u.mapIndex };
    await trx.insertInto("asset_event").values(u.outlets.map((uri) => ({ uri, ...source, created_at: now }))).execute();
    // Read back by the source and time rather than RETURNING, which MySQL lacks.
    const events = await trx
      .selectFrom("asset_event")
      .select(["id", "uri"])
      .where("source_dag_id", "=", u.dagId)
      .where("source_run_id", "=", u.runId)
      .where("source_task_id", "=", u.taskId)
      .where("source_map_index", "=", u.mapIndex)
      .where("created_at", "=", now)
      .execute();
    const consumers = await trx.selectFrom("dag_schedule_asset").select(["dag_id", "uri"]).where("uri", "in", u.outlets).execute();
    const rows = consumers.flatMap((c) =>
      events.filter((e) => e.uri === c.uri).map((e) => ({ dag_id: c.dag_id, uri: c.uri, event_id: e.id, created_at: now })),
    );
    if (rows.length > 0) await trx.insertInto("asset_dag_run_queue").values(rows).execute();
  }
}

/**
 * Creates an asset-triggered run for each unpaused DAG whose asset condition is satisfied by the
 * events queued for it; the run consumes all of them. Its logical date is now and its data interval
 * spans the first to the last consumed event.
 */
export async function createAssetTriggeredRuns(store: Store, lease: LeaseHandle, cache: DagCache, now: number): Promise<number> {
  // Paused and inactive DAGs keep their events queued until they are back.
  const queued = await store.db
    .selectFrom("asset_dag_run_queue as q")
    .innerJoin("dag as d", "d.dag_id", "q.dag_id")
    .select(["q.id", "q.dag_id", "q.uri", "q.event_id", "q.created_at"])
    .where("d.is_paused", "=", 0)
    .where("d.is_active", "=", 1)
    .orderBy("q.id")
    .execute();
  if (queued.length === 0) return 0;
  const byDag = groupBy(queued, (q) => q.dag_id);
  const dags = await cache.load(byDag.keys());
  let created = 0;
  for (const [dagId, rows] of byDag) {
    const cached = dags.get(dagId);
    if (!cached || cached.isPaused) continue;
    const spec = timetableOf(cached.dag).spec;
    if (spec.kind !== "assets") continue;
    if (!conditionSatisfied(spec.condition, new Set(rows.map((r) => r.uri)))) continue;
    const runId = runIdFor("asset_triggered", now);
    await fenced(store, lease, async (trx) => {
      if (await findRun(trx, dagId, runId)) return;
      await trx
        .insertInto("dag_run")
        .values(
          queuedRunRow(
            {
              dag_id: dagId,
              run_id: runId,
              run_type: "asset_triggered",
              logical_date: now,
              data_interval_start: Math.min(...rows.map((r) => r.created_at)),
              data_interval_end: Math.max(...rows.map((r) => r.created_at)),
              run_after: now,
              dag_version_id: cached.versionId,
            },
            now,
          ),
        )
        .execute();
      const run = (await findRun(trx, dagId, runId))!;
      const events = [...new Set(rows.map((r) => r.event_id))];
      for (const part of chunks(events, 500)) {
        await trx.insertInto("dag_run_asset_event").values(part.map((event_id) => ({ dag_run_id: run.id, event_id }))).execute();
      }
      for (const part of chunks(rows.map((r) => r.id))) await trx.deleteFrom("asset_dag_run_queue").where("id", "in", part).execute();
      created++;
    });
  }
  return created;
}
