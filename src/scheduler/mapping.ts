/**
 * Dynamic task mapping: when a mapped task's upstream source has succeeded, its placeholder instance
 * (map index -1) becomes instance 0 and instances 1..n-1 are added, one per element of the list the
 * source returned (Airflow renumbers its placeholder the same way); a mapped source gives the list of
 * its instances' return values. An empty list makes the task
 * skipped; a value that is not a list, or a list longer than max_map_length, fails it with the reason
 * in its log (as try 1, so `aloft tasks logs` shows it).
 */
import type { Kysely, Transaction } from "kysely";
import { taskLabel } from "../dag/validate.js";
import { appendTryLogs, logLine, NO_LOG_CAP } from "../executor/try-logs.js";
import type { Database } from "../store/schema.js";
import { readMapSource } from "../runtime/xcom.js";
import { chunks } from "../util/chunks.js";
import type { Expansion } from "./task-evaluation.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Default most instances of one mapped task (config max_map_length). */
export const DEFAULT_MAX_MAP_LENGTH = 1024;

/** Expands the mapped tasks, in `trx`; returns how many placeholders it changed. */
export async function expandMappedTasks(trx: Db, expansions: Expansion[], now: number, maxMapLength: number): Promise<number> {
  let changed = 0;
  for (const expansion of expansions) {
    const ti = await trx
      .selectFrom("task_instance")
      .selectAll()
      .where("id", "=", expansion.tiId)
      .where("map_index", "=", -1)
      .where("state", "is", null)
      .executeTakeFirst();
    if (!ti) continue;
    const where = taskLabel(ti.dag_id, expansion.taskId);
    const value = await readMapSource(trx, ti.dag_id, ti.run_id, expansion.source, expansion.sourceMapped);
    changed++;
    if (!Array.isArray(value)) {
      await failPlaceholder(trx, ti, now, `${where}: cannot expand: the return value of '${expansion.source}' must be a list (array), got ${describeType(value)}`);
      continue;
    }
    if (value.length > maxMapLength) {
      await failPlaceholder(
        trx,
        ti,
        now,
        `${where}: cannot expand: the return value of '${expansion.source}' has ${value.length} items, over the limit of ${maxMapLength} (config max_map_length, env ALOFT_MAX_MAP_LENGTH)`,
      );
      continue;
    }
    if (value.length === 0) {
      await trx
        .updateTable("task_instance")
        .set({ state: "skipped", start_date: now, end_date: now, duration_ms: 0, updated_at: now })
        .where("id", "=", ti.id)
        .execute();
      continue;
    }
    await trx.updateTable("task_instance").set({ map_index: 0, state: "scheduled", updated_at: now }).where("id", "=", ti.id).execute();
    const { id: _id, ...template } = ti;
    const rows = Array.from({ length: value.length - 1 }, (_, i) => ({ ...template, map_index: i + 1, state: "scheduled" as const, updated_at: now }));
    for (const part of chunks(rows, 500)) await trx.insertInto("task_instance").values(part).execute();
  }
  return changed;
}

async function failPlaceholder(trx: Db, ti: { id: number; dag_id: string; run_id: string; task_id: string }, now: number, error: string): Promise<void> {
  await trx
    .updateTable("task_instance")
    .set({ state: "failed", try_number: 1, start_date: now, end_date: now, duration_ms: 0, updated_at: now })
    .where("id", "=", ti.id)
    .execute();
  const key = { ti_id: ti.id, dag_id: ti.dag_id, run_id: ti.run_id, task_id: ti.task_id, map_index: -1 };
  await trx
    .insertInto("task_try")
    .values({ ...key, try_number: 1, state: "failed", hostname: "scheduler", pid: null, start_date: now, end_date: now, duration_ms: 0 })
    .execute();
  const request = { tiId: ti.id, dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: -1, tryNumber: 1 };
  await appendTryLogs(trx, [{ request, text: logLine("ERROR", `try ended: failed: ${error}`), at: now }], NO_LOG_CAP);
}

function describeType(value: unknown): string {
  if (value === undefined) return "no return value";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return `a ${typeof value} (${JSON.stringify(value).slice(0, 40)})`;
}
