/** Parses the DAG folder now and then and writes what it found to the DB. */
import path from "node:path";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { listDagFiles, parseDagFiles } from "./parse.js";
import { syncParsedDags, type SyncReport } from "./sync.js";

export interface DagProcessorOptions {
  store: Store;
  dagsFolder: string;
  home: string;
  parseTimeoutMs: number;
  pausedAtCreation: boolean;
  logger: Logger;
}

export function compiledDagsFolder(home: string): string {
  return path.join(home, "compiled-dags");
}

export async function processDagFolder(options: DagProcessorOptions): Promise<SyncReport> {
  const started = Date.now();
  const files = listDagFiles(options.dagsFolder);
  const parsed = await parseDagFiles(files, { outDir: compiledDagsFolder(options.home), timeoutMs: options.parseTimeoutMs });
  const report = await syncParsedDags(options.store, parsed, { pausedAtCreation: options.pausedAtCreation, files });
  const log = options.logger;
  for (const e of report.importErrors) log.warn({ file: e.file, error: e.message }, "DAG file failed to import");
  log.info(
    {
      folder: options.dagsFolder,
      files: files.length,
      added: report.added,
      changed: report.changed,
      deactivated: report.deactivated,
      import_errors: report.importErrors.length,
      ms: Date.now() - started,
    },
    "parsed DAG folder",
  );
  return report;
}

/** Parses the folder every `intervalMs`, one parse at a time; `onParsed` runs after each. */
export function scheduleDagProcessing(
  options: DagProcessorOptions,
  intervalMs: number,
  onParsed: (report: SyncReport) => void,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    try {
      onParsed(await processDagFolder(options));
    } catch (error) {
      options.logger.error({ err: (error as Error).message }, "parsing the DAG folder failed");
    }
    if (!stopped) timer = setTimeout(loop, intervalMs);
  };
  timer = setTimeout(loop, intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
