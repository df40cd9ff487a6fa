/**
 * Task instances and their tries in the shapes of Airflow's TaskInstanceResponse and
 * TaskInstanceHistoryResponse. What Aloft does not have (triggers, the unix user, executor config,
 * when an instance was scheduled) is null or empty, never made up.
 */
import type { Selectable } from "kysely";
import type { Db } from "../../operations/context.js";
import type { TaskTryTable, WorkerKind } from "../../store/schema.js";
import { uuidOf } from "../ids.js";
import { iso } from "../pagination.js";
import { dagVersionResponses, type DagVersionResponse } from "../responses/dag-versions.js";

/** Task instances joined with what their responses need: their run, and the worker that claimed them. */
export function taskInstanceQuery(db: Db) {
  return db.selectFrom("task_instance as ti").innerJoin("dag_run as dr", "dr.id", "ti.dag_run_id").leftJoin("worker as w", "w.name", "ti.worker");
}

/** The columns of taskInstanceQuery that taskInstanceResponses reads. */
export function withResponseColumns(query: ReturnType<typeof taskInstanceQuery>) {
  return query.selectAll("ti").select(["dr.logical_date", "dr.run_after", "dr.dag_version_id", "w.kind as worker_kind"]);
}

export type TaskInstanceRow = Awaited<ReturnType<ReturnType<typeof withResponseColumns>["execute"]>>[number];

/** A try with the task instance it belongs to (for what task_try does not keep: pool, operator, max tries). */
export type TryRow = Selectable<TaskTryTable> & { instance: TaskInstanceRow; worker_kind: WorkerKind | null };

// Aloft's executors, named by the kind of worker that claimed the try (see the worker table).
const EXECUTORS: Record<WorkerKind, string> = { local: "LocalExecutor", remote: "BrokerExecutor" };

const executorOf = (kind: WorkerKind | null) => (kind === null ? null : (EXECUTORS[kind] ?? null));
const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);

export async function taskInstanceResponses(db: Db, rows: TaskInstanceRow[]) {
  const versions = await dagVersionResponses(db, rows.map((r) => r.dag_version_id));
  return rows.map((row) => ({
    ...common(row, versions),
    id: uuidOf(row.id),
    try_number: row.try_number,
    state: row.state,
    start_date: iso(row.start_date),
    end_date: iso(row.end_date),
    duration: seconds(row.duration_ms),
    hostname: row.hostname,
    pid: row.pid,
    queue: row.queue,
    queued_when: iso(row.queued_at),
    executor: executorOf(row.worker_kind),
    note: row.note,
    logical_date: iso(row.logical_date),
    run_after: iso(row.run_after)!,
    rendered_map_index: null,
    // Only bash tasks have rendered fields (the command and env, secrets masked), once a try started.
    rendered_fields: row.rendered_fields === null ? {} : (JSON.parse(row.rendered_fields) as Record<string, unknown>),
    trigger: null,
    triggerer_job: null,
  }));
}

export async function taskTryResponses(db: Db, tries: TryRow[]) {
  const versions = await dagVersionResponses(db, tries.map((t) => t.instance.dag_version_id));
  return tries.map((t) => ({
    ...common(t.instance, versions),
    try_number: t.try_number,
    state: t.state,
    start_date: iso(t.start_date),
    end_date: iso(t.end_date),
    duration: seconds(t.duration_ms),
    hostname: t.hostname,
    pid: t.pid,
    queue: t.queue ?? t.instance.queue,
    queued_when: null,
    executor: executorOf(t.worker_kind),
  }));
}

/** What an instance and its tries share. Tries keep no max_tries, pool or priority of their own: the instance's are given. */
function common(row: TaskInstanceRow, versions: Map<number, DagVersionResponse>) {
  return {
    task_id: row.task_id,
    task_display_name: row.task_id,
    dag_id: row.dag_id,
    dag_display_name: row.dag_id,
    dag_run_id: row.run_id,
    map_index: row.map_index,
    max_tries: row.max_tries,
    operator: row.operator,
    operator_name: row.operator,
    pool: row.pool,
    pool_slots: row.pool_slots,
    priority_weight: row.priority_weight,
    unixname: null,
    executor_config: "{}",
    scheduled_when: null,
    dag_version: row.dag_version_id === null ? null : (versions.get(row.dag_version_id) ?? null),
  };
}
