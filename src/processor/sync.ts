/**
 * Writes a parse of the DAG folder to the DB: serialized DAGs (new, changed, gone) and import errors.
 * A file that failed to import keeps its DAGs as they were, so they go on running on the last good
 * version; only files that parsed, or disappeared, change what is stored.
 */
import crypto from "node:crypto";
import type { SerializedDag } from "../dag/types.js";
import type { Store } from "../store/db.js";
import { nextRunColumns, planNextRun } from "../scheduler/runs.js";
import { syncDagAssets } from "../scheduler/assets.js";
import type { ParsedFile } from "./protocol.js";

export interface SyncReport {
  added: string[];
  changed: string[];
  unchanged: string[];
  deactivated: string[];
  importErrors: Array<{ file: string; message: string }>;
}

export interface SyncOptions {
  pausedAtCreation: boolean;
  /** Every DAG file now in the folder (DAGs from files not in it are deactivated). */
  files: string[];
}

const hashOf = (dag: SerializedDag) => crypto.createHash("sha256").update(JSON.stringify(dag)).digest("hex");

/** What decides the next automated run; when it changes, the next run is planned again. */
const timetableOf = (d: SerializedDag) =>
  JSON.stringify([d.schedule, d.start, d.end, d.timezone, d.catchup, d.scheduleSpec ?? null, d.timetable ?? "trigger"]);

export async function syncParsedDags(store: Store, parsed: ParsedFile[], options: SyncOptions): Promise<SyncReport> {
  const report: SyncReport = { added: [], changed: [], unchanged: [], deactivated: [], importErrors: [] };
  const now = Date.now();
  await store.transaction(async (trx) => {
    const existing = new Map(
      (await trx.selectFrom("dag").select(["dag_id", "fileloc", "dag_hash", "serialized", "is_active", "module_path"]).execute()).map(
        (r) => [r.dag_id, r],
      ),
    );
    const seen = new Map<string, string>();
    const parsedOk = new Set<string>();
    for (const result of parsed) {
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
      parsedOk.add(result.file);
      for (const dag of result.dags) {
        seen.set(dag.dagId, result.file);
        const hash = hashOf(dag);
        const row = existing.get(dag.dagId);
        const common = {
          fileloc: dag.fileloc,
          is_active: 1,
          description: dag.description,
          tags: JSON.stringify(dag.tags),
          schedule: dag.schedule,
          timezone: dag.timezone,
          max_active_runs: dag.maxActiveRuns,
          serialized: JSON.stringify(dag),
          dag_hash: hash,
          module_path: result.modulePath,
          last_parsed_at: now,
        };
        if (!row) {
          const next = await planNextRun(trx, dag, now);
          await trx
            .insertInto("dag")
            .values({
              dag_id: dag.dagId,
              is_paused: options.pausedAtCreation ? 1 : 0,
              ...common,
              ...nextRunColumns(next),
            })
            .execute();
          report.added.push(dag.dagId);
          continue;
        }
        const before = JSON.parse(row.serialized) as SerializedDag;
        const replan = row.is_active === 0 || timetableOf(before) !== timetableOf(dag);
        const next = replan ? await planNextRun(trx, dag, now) : undefined;
        await trx
          .updateTable("dag")
          .set({
            ...common,
            ...(replan ? nextRunColumns(next ?? null) : {}),
          })
          .where("dag_id", "=", dag.dagId)
          .execute();
        if (row.dag_hash !== hash || row.is_active === 0 || row.module_path !== result.modulePath) report.changed.push(dag.dagId);
        else report.unchanged.push(dag.dagId);
      }
    }

    const present = new Set(options.files);
    for (const row of existing.values()) {
      if (row.is_active === 0 || seen.has(row.dag_id)) continue;
      if (parsedOk.has(row.fileloc) || !present.has(row.fileloc)) {
        await trx.updateTable("dag").set({ is_active: 0 }).where("dag_id", "=", row.dag_id).execute();
        report.deactivated.push(row.dag_id);
      }
    }

    await syncDagAssets(trx, parsed.flatMap((result) => (result.ok && parsedOk.has(result.file) ? result.dags : [])), now);

    // Import errors describe the latest parse of each file.
    await trx.deleteFrom("import_error").execute();
    for (const e of report.importErrors) {
      await trx.insertInto("import_error").values({ filename: e.file, message: e.message, created_at: now }).execute();
    }
  });
  return report;
}
