/** The task instance page's data: the API's shapes it reads, and the addresses it reads them from. */
import { enc } from "../../api.js";

/** The parts of Airflow's TaskInstanceResponse the page shows. */
export interface TaskInstance {
  task_id: string;
  dag_id: string;
  dag_run_id: string;
  map_index: number;
  try_number: number;
  max_tries: number;
  state: string | null;
  operator: string;
  pool: string;
  pool_slots: number;
  queue: string;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  hostname: string | null;
  executor: string | null;
  note: string | null;
  logical_date: string | null;
  rendered_fields: Record<string, unknown>;
}

/** The parts of Airflow's TaskInstanceHistoryResponse (one try) the page shows. */
export interface TaskTry {
  try_number: number;
  state: string | null;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  hostname: string | null;
  executor: string | null;
}

/** Which task instance the page shows: map index -1 for an unmapped task. */
export interface InstanceRef {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
}

/** States after which nothing happens to an instance unless someone clears it. */
const FINISHED = new Set(["success", "failed", "skipped", "upstream_failed", "removed"]);
export const isFinished = (state: string | null | undefined) => FINISHED.has(state ?? "");

/** `/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}`: the task's address, where its sub-resources hang. */
export function taskPath({ dagId, runId, taskId }: Omit<InstanceRef, "mapIndex">): string {
  return `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}`;
}

/** The instance's own address: the task's, plus the map index for a mapped one (the API's 404 otherwise). */
export function instancePath(ref: InstanceRef): string {
  return ref.mapIndex >= 0 ? `${taskPath(ref)}/${ref.mapIndex}` : taskPath(ref);
}
