/**
 * `aloft deploy`: compiles every DAG file of a folder (in child processes, with the parse timeout per
 * file), then stores the bundle, its modules, new DAG versions and import errors in one transaction.
 * Deploying content that is already current creates nothing.
 */
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../logging.js";
import { bundlePath } from "../processor/compile.js";
import { listDagFiles, parseDagFiles } from "../processor/parse.js";
import type { Store } from "../store/db.js";
import { moduleCacheFolder } from "./module-cache.js";
import { writeBundle, type BundleFile, type BundleWriteReport } from "./store-bundle.js";

export interface DeployOptions {
  /** ALOFT_HOME: compiled modules are kept in its module cache, so this node need not fetch them again. */
  home: string;
  /** Longest one file may take to compile and import (config parse_timeout_ms). */
  parseTimeoutMs: number;
  /** Whether DAGs new to the DB start paused (config paused_at_creation). */
  pausedAtCreation: boolean;
  /** Stored with the bundle, shown by `aloft dags versions`. Default none. */
  message?: string;
  /** The DAG files to deploy, inside `dir`. Default: every DAG file under `dir` (see listDagFiles). */
  files?: string[];
  /** Receives one line per deploy. Default: none. */
  logger?: Logger;
}

export interface DeployReport extends BundleWriteReport {
  /** The folder deployed. */
  folder: string;
  /** DAG files found in it. */
  files: number;
  ms: number;
}

export async function deployBundle(store: Store, dir: string, options: DeployOptions): Promise<DeployReport> {
  const started = Date.now();
  const root = path.resolve(dir);
  const files = options.files?.map((f) => path.resolve(f)) ?? listDagFiles(root);
  const parsed = await parseDagFiles(files, { outDir: moduleCacheFolder(options.home), root, timeoutMs: options.parseTimeoutMs });
  const bundleFiles: BundleFile[] = parsed.map((p) => {
    const file = bundlePath(root, p.file);
    if (!p.ok) return { file, ok: false, error: p.error };
    return { file, ok: true, dags: p.dags, moduleHash: p.moduleHash, code: fs.readFileSync(p.modulePath, "utf8") };
  });
  const write = { files: bundleFiles, message: options.message ?? null, pausedAtCreation: options.pausedAtCreation };
  let written;
  try {
    written = await writeBundle(store, write);
  } catch (error) {
    // A deploy from another process may have taken the same version numbers; the second try sees its result.
    options.logger?.warn({ err: (error as Error).message }, "storing the DAG bundle failed; trying once more");
    written = await writeBundle(store, write);
  }
  const report: DeployReport = { ...written, folder: root, files: files.length, ms: Date.now() - started };
  const log = options.logger;
  if (log) {
    for (const e of report.importErrors) log.warn({ file: e.file, error: e.message }, "DAG file failed to import");
    log.info(
      {
        folder: root,
        files: files.length,
        bundle: report.bundle?.id,
        new_version: report.created,
        added: report.added,
        changed: report.changed,
        removed: report.removed,
        import_errors: report.importErrors.length,
        ms: report.ms,
      },
      report.created ? "deployed DAG bundle" : "DAG folder unchanged; no new bundle",
    );
  }
  return report;
}
