/** What the DAG page's endpoints answer (src/api/routes/ui-dag-views.ts and the public API). */

export interface GridTask {
  id: string;
  group: string | null;
  kind: string | null;
  operator: string | null;
  mapped: boolean;
}

export interface GridRun {
  run_id: string;
  state: string;
  run_type: string;
  logical_date: string | null;
  run_after: string | null;
  start_date: string | null;
  end_date: string | null;
  dag_version_number: number | null;
  /** A state code per task, indexed like GridData.tasks. */
  states: number[];
}

export interface GridData {
  dag_id: string;
  /** Code → state; "" is "no instance in this run". */
  state_codes: string[];
  tasks: GridTask[];
  /** Oldest first. */
  runs: GridRun[];
}

export interface Structure {
  dag_id: string;
  version_number: number | null;
  tasks: (GridTask & { upstream: string[] })[];
  groups: { id: string; parent: string | null; tooltip: string | null }[];
}

/** [task_id, map_index, try_number, state, queued_at, start, end], times in epoch ms. */
export type GanttRow = [string, number, number, string, number | null, number | null, number | null];

export interface Gantt {
  run_id: string;
  state: string;
  start_date: string | null;
  end_date: string | null;
  rows: GanttRow[];
}

export interface Dag {
  dag_id: string;
  is_paused: boolean;
  description: string | null;
  tags: { name: string }[];
  timetable_summary: string | null;
  next_dagrun_run_after: string | null;
}

/** The selected run and task, from the address (`?run=…&task=…`). */
export interface Selection {
  runId: string | undefined;
  taskId: string | undefined;
}

/** The state a grid cell shows for a task in a run ("" when it has no instance there). */
export function cellState(grid: GridData, run: GridRun, taskIndex: number): string {
  return grid.state_codes[run.states[taskIndex] ?? 0] ?? "";
}
