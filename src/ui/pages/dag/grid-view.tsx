/**
 * The grid: a row a task (topological order, groups indented), a column a run (oldest left), each
 * cell in its task instance's state colour. Only the rows in view are rendered, so a DAG of
 * thousands of tasks scrolls as quickly as a small one; one click handler serves every cell.
 */
import { stateColour } from "../../format.js";
import type { GridData, GridRun, Selection } from "./types.js";
import { cellState } from "./types.js";
import { useVirtualRows } from "./virtual-rows.js";

const ROW_HEIGHT = 22;
/** The tallest run bar: runs' bars are as tall as their duration relative to the longest one. */
const BAR_MAX = 48;

function runSeconds(run: GridRun): number {
  if (!run.start_date) return 0;
  return ((run.end_date ? Date.parse(run.end_date) : Date.now()) - Date.parse(run.start_date)) / 1000;
}

/** "g.sub.c" in group "g.sub" reads "c", indented two levels. */
function taskLabel(id: string, group: string | null): { name: string; depth: number } {
  if (!group || !id.startsWith(`${group}.`)) return { name: id, depth: group ? group.split(".").length : 0 };
  return { name: id.slice(group.length + 1), depth: group.split(".").length };
}

export function GridView({ grid, selection, onSelect }: { grid: GridData; selection: Selection; onSelect: (s: Selection) => void }) {
  const { ref, first, last } = useVirtualRows(grid.tasks.length, ROW_HEIGHT);
  const longest = Math.max(1, ...grid.runs.map(runSeconds));

  const click = (event: MouseEvent) => {
    const target = (event.target as HTMLElement).closest<HTMLElement>("[data-run-id],[data-row-task]");
    if (!target) return;
    const runId = target.dataset.runId;
    const taskId = target.dataset.taskId ?? target.dataset.rowTask;
    // A task's name selects it in the selected run (or the latest one).
    onSelect({ runId: runId ?? selection.runId ?? grid.runs.at(-1)?.run_id, taskId });
  };

  const rows = [];
  for (let i = first; i < last; i++) {
    const task = grid.tasks[i]!;
    const { name, depth } = taskLabel(task.id, task.group);
    const selectedRow = task.id === selection.taskId;
    rows.push(
      <div key={task.id} class={`grid-row${selectedRow ? " selected" : ""}`} style={{ top: i * ROW_HEIGHT }}>
        <div class="grid-name" data-row-task={task.id} style={{ paddingLeft: 6 + depth * 14 }} title={task.id}>
          {task.group && <span class="grid-group">{task.group} › </span>}
          {name}
          {task.mapped && <span class="muted"> [ ]</span>}
        </div>
        {grid.runs.map((run) => {
          const state = cellState(grid, run, i);
          const selected = selectedRow && run.run_id === selection.runId;
          return (
            <div
              key={run.run_id}
              class={`grid-cell${selected ? " selected" : ""}${run.run_id === selection.runId ? " in-run" : ""}`}
              data-testid="grid-cell"
              data-task-id={task.id}
              data-run-id={run.run_id}
              data-state={state || "none"}
              title={`${task.id} · ${run.run_id}: ${state || "no instance"}`}
            >
              <span style={{ background: state ? stateColour(state === "none" ? null : state) : "transparent" }} />
            </div>
          );
        })}
      </div>,
    );
  }

  return (
    <div class="grid-scroll" ref={ref} data-testid="grid" data-task-count={grid.tasks.length} data-run-count={grid.runs.length} onClick={click}>
      <div class="grid-head">
        <div class="grid-name muted">{grid.tasks.length} tasks</div>
        {grid.runs.map((run) => (
          <div
            key={run.run_id}
            class={`grid-run${run.run_id === selection.runId && !selection.taskId ? " selected" : ""}`}
            data-testid="grid-run"
            data-run-id={run.run_id}
            data-state={run.state}
            title={`${run.run_id}: ${run.state}`}
          >
            <span style={{ height: 6 + (BAR_MAX - 6) * (runSeconds(run) / longest), background: stateColour(run.state) }} />
          </div>
        ))}
      </div>
      <div class="grid-body" style={{ height: grid.tasks.length * ROW_HEIGHT }}>
        {rows}
      </div>
      {grid.runs.length === 0 && <p class="muted grid-empty">No runs yet: trigger one.</p>}
    </div>
  );
}
