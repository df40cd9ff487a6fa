/**
 * Writes a deploy to the DB in one transaction: the bundle, its new modules, a new version of each DAG
 * whose serialized form or module changed, the dag rows (current version, next run, active flag) and
 * the import errors. A file that failed to import keeps its DAGs on their last good version; only files
 * that imported, or disappeared, change what is current.
 */
import crypto from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { SerializedDag } from "../dag/types.js";
import { syncDagAssets } from "../scheduler/assets.js";
import { nextRunColumns, planNextRun } from "../scheduler/runs.js";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { chunks } from "../util/chunks.js";

type Db = Kysely<Database> | Transaction<Database>;

/** One DAG file of a deploy, by its path relative to the bundle root. */
export type BundleFile =
  | { file: string; ok: true; dags: SerializedDag[]; moduleHash: string; code: string }
  | { file: string; ok: false; error: string };

export interface BundleWrite {
  files: BundleFile[];
  message: string | null;
  pausedAtCreation: boolean;
}

export interface BundleWriteReport {
  /** The bundle now current: the one this deploy created, or the latest one when nothing changed (null before the first). */
  bundle: { id: number; hash: string } | null;
  /** Whether the deploy changed anything (and so created a bundle). */
  created: boolean;
  added: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
  importErrors: Array<{ file: string; message: string }>;
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

export const dagHashOf = (dag: SerializedDag) => sha256(JSON.stringify(dag));

/** The bundle's content hash: its files that imported, each as relative path and module hash, in order. */
export function bundleHashOf(files: BundleFile[]): string {
  const lines = files
    .flatMap((f) => (f.ok ? [`${f.file}\0${f.moduleHash}`] : []))
    .sort()
    .join("\n");
  return sha256(lines);
}

/** What decides the next automated run; when it changes, the next run is planned again. */
const timetableOf = (d: SerializedDag) =>
  JSON.stringify([d.schedule, d.start, d.end, d.timezone, d.catchup, d.scheduleSpec ?? null, d.timetable ?? "trigger"]);

interface PlannedVersion {
  dag: SerializedDag;
  file: string;
  moduleHash: string;
  hash: string;
}

export async function writeBundle(store: Store, write: BundleWrite): Promise<BundleWriteReport> {
  const report: BundleWriteReport = { bundle: null, created: false, added: [], changed: [], unchanged: [], removed: [], importErrors: [] };
  const now = Date.now();
  const bundleHash = bundleHashOf(write.files);
  await store.transaction(async (trx) => {
    const existing = new Map(
      (
        await trx
          .selectFrom("dag as d")
          .leftJoin("dag_version as v", "v.id", "d.dag_version_id")
          .select(["d.dag_id", "d.fileloc", "d.dag_hash", "d.serialized", "d.is_active", "d.dag_version_id", "v.module_hash"])
          .execute()
      ).map((r) => [r.dag_id, r]),
    );
    const seen = new Map<string, string>();
    const importedFiles = new Set<string>();
    const planned: PlannedVersion[] = [];
    for (const result of write.files) {
      if (!result.ok) {
        report.importErrors.push({ file: result.file, message: result.error });
        continue;
      }
      const duplicate = result.dags.find((d) => seen.has(d.dagId));
      if (duplicate) {
        report.importErrors.push({
          file: result.file,
          message: `DAG '${duplicate.dagId}' is already defined in ${seen.get(duplicate.dagId)}; DAG ids must be unique`,
        });
        continue;
      }
      importedFiles.add(result.file);
      for (const dag of result.dags) {
        seen.set(dag.dagId, result.file);
        const hash = dagHashOf(dag);
        planned.push({ dag, file: result.file, moduleHash: result.moduleHash, hash });
        const row = existing.get(dag.dagId);
        if (!row || row.is_active === 0) report.added.push(dag.dagId);
        else if (row.dag_version_id === null || row.dag_hash !== hash || row.module_hash !== result.moduleHash) report.changed.push(dag.dagId);
        else report.unchanged.push(dag.dagId);
      }
    }
    // A DAG is gone when its file imported without it, or when its file is no longer in the folder.
    const present = new Set(write.files.map((f) => f.file));
    const gone = [...existing.values()].filter(
      (row) => row.is_active === 1 && !seen.has(row.dag_id) && (importedFiles.has(row.fileloc) || !present.has(row.fileloc)),
    );
    report.removed = gone.map((r) => r.dag_id);

    const latest = await trx.selectFrom("dag_bundle").select(["id", "hash"]).orderBy("id", "desc").limit(1).executeTakeFirst();
    const needsVersion = (p: PlannedVersion) => {
      const row = existing.get(p.dag.dagId);
      return !row || row.dag_version_id === null || row.dag_hash !== p.hash || row.module_hash !== p.moduleHash;
    };
    report.created = !latest || latest.hash !== bundleHash || report.added.length + report.changed.length + report.removed.length > 0;
    report.bundle = latest ? { id: latest.id, hash: latest.hash } : null;
    if (report.created) {
      const imported = write.files.flatMap((f) => (f.ok && importedFiles.has(f.file) ? [f] : []));
      report.bundle = await insertBundle(trx, bundleHash, write.message, imported, now);
    }

    for (const p of planned) {
      const row = existing.get(p.dag.dagId);
      const versionId = needsVersion(p) ? await insertVersion(trx, p, report.bundle!.id, now) : row!.dag_version_id;
      const common = {
        fileloc: p.file,
        is_active: 1,
        description: p.dag.description,
        tags: JSON.stringify(p.dag.tags),
        schedule: p.dag.schedule,
        timezone: p.dag.timezone,
        max_active_runs: p.dag.maxActiveRuns,
        serialized: JSON.stringify(p.dag),
        dag_hash: p.hash,
        dag_version_id: versionId,
        last_parsed_at: now,
      };
      if (!row) {
        const next = await planNextRun(trx, p.dag, now);
        await trx
          .insertInto("dag")
          .values({ dag_id: p.dag.dagId, is_paused: write.pausedAtCreation ? 1 : 0, ...common, ...nextRunColumns(next) })
          .execute();
        continue;
      }
      const before = JSON.parse(row.serialized) as SerializedDag;
      const replan = row.is_active === 0 || timetableOf(before) !== timetableOf(p.dag);
      const next = replan ? await planNextRun(trx, p.dag, now) : undefined;
      await trx
        .updateTable("dag")
        .set({ ...common, ...(replan ? nextRunColumns(next ?? null) : {}) })
        .where("dag_id", "=", p.dag.dagId)
        .execute();
    }
    for (const part of chunks(report.removed)) await trx.updateTable("dag").set({ is_active: 0 }).where("dag_id", "in", part).execute();

    await syncDagAssets(trx, planned.map((p) => p.dag), now);

    // Import errors describe the latest deploy of each file.
    await trx.deleteFrom("import_error").execute();
    for (const e of report.importErrors) {
      await trx.insertInto("import_error").values({ filename: e.file, message: e.message, created_at: now }).execute();
    }
  });
  return report;
}

/** The bundle row and the modules the DB does not have yet. */
async function insertBundle(
  trx: Db,
  hash: string,
  message: string | null,
  files: Array<Extract<BundleFile, { ok: true }>>,
  now: number,
): Promise<{ id: number; hash: string }> {
  const modules = new Map(files.map((f) => [f.moduleHash, f.code]));
  const bytes = files.reduce((sum, f) => sum + Buffer.byteLength(f.code), 0);
  const stored = new Set<string>();
  for (const part of chunks([...modules.keys()])) {
    for (const row of await trx.selectFrom("bundle_module").select("hash").where("hash", "in", part).execute()) stored.add(row.hash);
  }
  for (const [moduleHash, code] of modules) {
    if (stored.has(moduleHash)) continue;
    await trx.insertInto("bundle_module").values({ hash: moduleHash, code, bytes: Buffer.byteLength(code), created_at: now }).execute();
  }
  await trx.insertInto("dag_bundle").values({ hash, message, created_at: now, file_count: files.length, bytes }).execute();
  const row = await trx.selectFrom("dag_bundle").select(["id", "hash"]).where("hash", "=", hash).orderBy("id", "desc").limit(1).executeTakeFirstOrThrow();
  return { id: row.id, hash: row.hash };
}

async function insertVersion(trx: Db, p: PlannedVersion, bundleId: number, now: number): Promise<number> {
  const last = await trx
    .selectFrom("dag_version")
    .select((eb) => eb.fn.max("version_number").as("n"))
    .where("dag_id", "=", p.dag.dagId)
    .executeTakeFirst();
  const versionNumber = Number(last?.n ?? 0) + 1;
  await trx
    .insertInto("dag_version")
    .values({
      dag_id: p.dag.dagId,
      version_number: versionNumber,
      bundle_id: bundleId,
      module_hash: p.moduleHash,
      fileloc: p.file,
      dag_hash: p.hash,
      serialized: JSON.stringify(p.dag),
      created_at: now,
    })
    .execute();
  const row = await trx
    .selectFrom("dag_version")
    .select("id")
    .where("dag_id", "=", p.dag.dagId)
    .where("version_number", "=", versionNumber)
    .executeTakeFirstOrThrow();
  return row.id;
}
