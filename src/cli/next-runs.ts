/**
 * `aloft dags next-runs FILE`: the next runs a DAG's timetable plans, from a given "now" and last
 * run, without a database. The DAG file is parsed by the real DAG processor (in a child process).
 * The JSON output is a stable contract:
 * `[{"logical_date","data_interval_start","data_interval_end","run_after"}]`, ISO 8601 UTC with ms.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SerializedDag } from "../dag/types.js";
import { UsageError } from "../errors.js";
import { parseDagFiles } from "../processor/parse.js";
import { timetableOf } from "../timetable/schedule.js";
import { nextRun, type DataInterval } from "../timetable/timetable.js";
import { chooseDagId, requireDagFile } from "./dag-file.js";

export interface NextRunRow {
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  run_after: string;
}

export interface NextRunsOptions {
  dag?: string;
  now: Date;
  /** The data interval of the DAG's latest automated run, if it has one. */
  last: DataInterval | null;
  count: number;
  parseTimeoutMs: number;
}

/** Parses one DAG file and returns the DAG chosen by `dagId` (or its only DAG). */
export async function loadDagFromFile(file: string, dagId: string | undefined, parseTimeoutMs: number): Promise<SerializedDag> {
  const resolved = requireDagFile(file);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-next-runs-"));
  try {
    const [parsed] = await parseDagFiles([resolved], { outDir, root: path.dirname(resolved), timeoutMs: parseTimeoutMs });
    if (!parsed || !parsed.ok) throw new UsageError(`${file} failed to import: ${parsed?.ok === false ? parsed.error : "no result"}`);
    const chosen = chooseDagId(file, parsed.dags.map((d) => d.dagId), dagId);
    return parsed.dags.find((d) => d.dagId === chosen)!;
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * The next `count` runs, each planned after the one before, as the scheduler would create them with
 * the clock stopped at `now`. `@continuous` lists only its next run: the ones after it depend on when
 * that run finishes.
 */
export function planNextRuns(dag: SerializedDag, now: Date, last: DataInterval | null, count: number): NextRunRow[] {
  const tt = timetableOf(dag);
  const rows: NextRunRow[] = [];
  let previous = last;
  const limit = tt.spec.kind === "continuous" ? Math.min(count, 1) : count;
  while (rows.length < limit) {
    const run = nextRun(tt, previous, now);
    if (run === null) break;
    rows.push({
      logical_date: run.logicalDate.toISOString(),
      data_interval_start: run.dataIntervalStart.toISOString(),
      data_interval_end: run.dataIntervalEnd.toISOString(),
      run_after: run.runAfter.toISOString(),
    });
    previous = { start: run.dataIntervalStart, end: run.dataIntervalEnd };
  }
  return rows;
}
