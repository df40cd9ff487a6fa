/**
 * Airflow's TaskInstanceResponse for task_instance rows of one run, with the fields Aloft has; what it
 * does not have (executors by name, triggers, unix names, rendered map indexes) is null.
 */
import type { Selectable } from "kysely";
import type { DagRunRow, TaskInstanceTable } from "../../store/schema.js";
import { iso } from "../pagination.js";
import type { DagVersionResponse } from "./dag-versions.js";
import { uuidOf } from "../ids.js";

type TaskInstanceRow = Selectable<TaskInstanceTable>;

export function taskInstanceResponse(ti: TaskInstanceRow, run: DagRunRow, version: DagVersionResponse | null) {
  return {
    id: uuidOf(ti.id),
    task_id: ti.task_id,
    task_display_name: ti.task_id,
    dag_id: ti.dag_id,
    dag_display_name: ti.dag_id,
    dag_run_id: ti.run_id,
    map_index: ti.map_index,
    logical_date: iso(run.logical_date),
    run_after: iso(run.run_after)!,
    start_date: iso(ti.start_date),
    end_date: iso(ti.end_date),
    duration: ti.duration_ms === null ? null : Number(ti.duration_ms) / 1000,
    state: ti.state,
    try_number: ti.try_number,
    max_tries: ti.max_tries,
    hostname: ti.hostname,
    unixname: null,
    pool: ti.pool,
    pool_slots: ti.pool_slots,
    queue: ti.queue,
    priority_weight: ti.priority_weight,
    // Aloft's task kinds (bash, function, ...) stand where Airflow names operator classes.
    operator: ti.operator,
    operator_name: ti.operator,
    queued_when: iso(ti.queued_at),
    scheduled_when: null,
    pid: ti.pid,
    executor: null,
    executor_config: "{}",
    note: ti.note,
    rendered_map_index: null,
    rendered_fields: ti.rendered_fields === null ? {} : (JSON.parse(ti.rendered_fields) as Record<string, unknown>),
    trigger: null,
    triggerer_job: null,
    dag_version: version,
  };
}
