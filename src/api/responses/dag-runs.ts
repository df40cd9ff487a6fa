/** Airflow's DAGRunResponse for dag_run rows, with what it needs from other tables read once for all of them. */
import type { Db } from "../../operations/context.js";
import type { DagRunRow, RunType } from "../../store/schema.js";
import { iso } from "../pagination.js";
import { dagVersionResponses } from "./dag-versions.js";

type TriggeredBy = "cli" | "rest_api" | "timetable" | "asset" | "backfill";

/** Who creates runs of each type other than manual ones. */
const TRIGGERED_BY: Record<Exclude<RunType, "manual">, TriggeredBy> = {
  scheduled: "timetable",
  asset_triggered: "asset",
  backfill: "backfill",
};

/** The event the CLI and the API write when they trigger a run; its owner says who ("cli", or an API user). */
export const TRIGGER_EVENT = "trigger";
/** The owner the CLI's events carry (CLI_ACTOR in cli/context.ts, not imported: the API server does not load the CLI). */
const CLI_OWNER = "cli";

/** Who created the run, from its type, and for a manual run from its trigger event (none: not known). */
function triggeredBy(row: DagRunRow, trigger: { owner: string } | undefined): TriggeredBy | null {
  if (row.run_type !== "manual") return TRIGGERED_BY[row.run_type];
  if (!trigger) return null;
  return trigger.owner === CLI_OWNER ? "cli" : "rest_api";
}

export async function dagRunResponses(db: Db, rows: DagRunRow[]) {
  const versions = await dagVersionResponses(db, rows.map((r) => r.dag_version_id));
  const triggers = await manualTriggers(db, rows);
  return rows.map((row) => {
    const version = row.dag_version_id === null ? undefined : versions.get(Number(row.dag_version_id));
    const trigger = triggers.get(row.id);
    const by = triggeredBy(row, trigger);
    return {
      dag_run_id: row.run_id,
      dag_id: row.dag_id,
      dag_display_name: row.dag_id,
      logical_date: iso(row.logical_date),
      queued_at: iso(row.queued_at),
      start_date: iso(row.start_date),
      end_date: iso(row.end_date),
      duration: row.start_date !== null && row.end_date !== null ? (Number(row.end_date) - Number(row.start_date)) / 1000 : null,
      data_interval_start: iso(row.data_interval_start),
      data_interval_end: iso(row.data_interval_end),
      run_after: iso(row.run_after)!,
      // Aloft does not record when the scheduler last looked at a run.
      last_scheduling_decision: null,
      run_type: row.run_type,
      state: row.state,
      triggered_by: by,
      triggering_user_name: by === "rest_api" ? trigger!.owner : null,
      conf: JSON.parse(row.conf) as Record<string, unknown>,
      note: row.note,
      dag_versions: version ? [version] : [],
      bundle_version: version?.bundle_version ?? null,
      partition_key: null,
    };
  });
}

export type DagRunResponse = Awaited<ReturnType<typeof dagRunResponses>>[number];

/**
 * The trigger event of each manual run (by dag_run.id): the first one logged for its DAG and run id
 * since the run was created, so that an earlier run of the same id, since deleted, does not count.
 */
async function manualTriggers(db: Db, rows: DagRunRow[]): Promise<Map<number, { owner: string }>> {
  const manual = rows.filter((r) => r.run_type === "manual");
  if (manual.length === 0) return new Map();
  const events = await db
    .selectFrom("event_log")
    .select(["dag_id", "run_id", "owner", "dttm"])
    .where("event", "=", TRIGGER_EVENT)
    // The time bound lets the DB use the event log's dttm index rather than read the whole log.
    .where("dttm", ">=", Math.min(...manual.map((r) => Number(r.created_at))))
    .where("run_id", "in", [...new Set(manual.map((r) => r.run_id))])
    .orderBy("id")
    .execute();
  const out = new Map<number, { owner: string }>();
  for (const run of manual) {
    const event = events.find((e) => e.dag_id === run.dag_id && e.run_id === run.run_id && Number(e.dttm) >= Number(run.created_at));
    if (event) out.set(run.id, { owner: event.owner });
  }
  return out;
}
