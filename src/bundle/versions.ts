/**
 * A DAG's versions (`aloft dags versions`) and pruning the ones no run needs
 * (`aloft dags prune-versions`). A version is needed while it is its DAG's current version, or the
 * version of a run that is not finished (queued or running) or whose DAG callback has yet to run.
 * A finished run whose version was pruned keeps the id of that version; if it is cleared and runs
 * again, it runs on the DAG's current version (logged by the scheduler).
 */
import type { Store } from "../store/db.js";
import { chunks } from "../util/chunks.js";

export interface DagVersionRow {
  version_number: number;
  dag_version_id: number;
  bundle_id: number;
  bundle_hash: string | null;
  created_at: number;
  message: string | null;
  fileloc: string;
  /** Runs recorded with this version. */
  runs: number;
  current: boolean;
}

/** The versions of a DAG, newest first. */
export async function listDagVersions(store: Store, dagId: string): Promise<DagVersionRow[]> {
  const { db } = store;
  const dag = await db.selectFrom("dag").select("dag_version_id").where("dag_id", "=", dagId).executeTakeFirst();
  const rows = await db
    .selectFrom("dag_version as v")
    .leftJoin("dag_bundle as b", "b.id", "v.bundle_id")
    .select(["v.id", "v.version_number", "v.bundle_id", "b.hash", "v.created_at", "b.message", "v.fileloc"])
    .where("v.dag_id", "=", dagId)
    .orderBy("v.version_number", "desc")
    .execute();
  const counts = await db
    .selectFrom("dag_run")
    .select((eb) => ["dag_version_id", eb.fn.countAll<number>().as("n")])
    .where("dag_id", "=", dagId)
    .groupBy("dag_version_id")
    .execute();
  const runs = new Map(counts.map((c) => [Number(c.dag_version_id), Number(c.n)]));
  return rows.map((r) => ({
    version_number: r.version_number,
    dag_version_id: r.id,
    bundle_id: r.bundle_id,
    bundle_hash: r.hash,
    created_at: r.created_at,
    message: r.message,
    fileloc: r.fileloc,
    runs: runs.get(r.id) ?? 0,
    current: dag?.dag_version_id === r.id,
  }));
}

export interface PruneReport {
  versions: Array<{ dag_id: string; version_number: number; dag_version_id: number }>;
  modules: Array<{ hash: string; bytes: number }>;
  bundles: number[];
  /** Nothing was deleted (--dry-run). */
  dryRun: boolean;
}

/** Deletes the versions no run needs, then the modules and bundles no version is left to use. */
export async function pruneDagVersions(store: Store, options: { dryRun?: boolean } = {}): Promise<PruneReport> {
  const dryRun = options.dryRun ?? false;
  return store.transaction(async (trx) => {
    const needed = new Set<number>();
    const add = (rows: Array<{ dag_version_id: number | null }>) => {
      for (const r of rows) if (r.dag_version_id !== null) needed.add(Number(r.dag_version_id));
    };
    add(await trx.selectFrom("dag").select("dag_version_id").execute());
    add(await trx.selectFrom("dag_run").select("dag_version_id").distinct().where("state", "in", ["queued", "running"]).execute());
    add(
      await trx
        .selectFrom("callback_request as c")
        .innerJoin("dag_run as r", (j) => j.onRef("r.dag_id", "=", "c.dag_id").onRef("r.run_id", "=", "c.run_id"))
        .select("r.dag_version_id")
        .distinct()
        .where("c.state", "in", ["pending", "running"])
        .execute(),
    );
    const versions = await trx.selectFrom("dag_version").select(["id", "dag_id", "version_number", "bundle_id", "module_hash"]).orderBy("id").execute();
    const doomed = versions.filter((v) => !needed.has(v.id));
    const kept = versions.filter((v) => needed.has(v.id));
    const keptModules = new Set(kept.map((v) => v.module_hash));
    const keptBundles = new Set(kept.map((v) => v.bundle_id));
    const latest = await trx.selectFrom("dag_bundle").select("id").orderBy("id", "desc").limit(1).executeTakeFirst();
    if (latest) keptBundles.add(latest.id);
    const modules = (await trx.selectFrom("bundle_module").select(["hash", "bytes"]).orderBy("hash").execute()).filter((m) => !keptModules.has(m.hash));
    const bundles = (await trx.selectFrom("dag_bundle").select("id").orderBy("id").execute()).map((b) => b.id).filter((id) => !keptBundles.has(id));
    if (!dryRun) {
      for (const part of chunks(doomed.map((v) => v.id))) await trx.deleteFrom("dag_version").where("id", "in", part).execute();
      for (const part of chunks(modules.map((m) => m.hash))) await trx.deleteFrom("bundle_module").where("hash", "in", part).execute();
      for (const part of chunks(bundles)) await trx.deleteFrom("dag_bundle").where("id", "in", part).execute();
    }
    return {
      versions: doomed.map((v) => ({ dag_id: v.dag_id, version_number: v.version_number, dag_version_id: v.id })),
      modules: modules.map((m) => ({ hash: m.hash, bytes: Number(m.bytes) })),
      bundles,
      dryRun,
    };
  });
}
