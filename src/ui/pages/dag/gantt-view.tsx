/**
 * The Gantt chart of one run: a bar a try (queued, then running until it ended), on one time axis,
 * in the try's state colour. Rows follow the grid's task order; only those in view are rendered.
 */
import { useMemo } from "preact/hooks";
import { api, enc } from "../../api.js";
import { duration, stateColour, when } from "../../format.js";
import { usePoll } from "../../hooks.js";
import type { Gantt, GanttRow, GridData, Selection } from "./types.js";
import { RunPicker } from "./run-picker.js";
import { useVirtualRows } from "./virtual-rows.js";

const ROW_HEIGHT = 22;
const TICKS = 6;

export function GanttView({ dagId, grid, selection, onSelect }: { dagId: string; grid: GridData; selection: Selection; onSelect: (s: Selection) => void }) {
  const runId = selection.runId ?? grid.runs.at(-1)?.run_id;
  const gantt = usePoll(async () => (runId ? api<Gantt>(`/ui/api/dags/${enc(dagId)}/runs/${enc(runId)}/gantt`) : undefined), [dagId, runId]);

  const rows = useMemo(() => {
    const order = new Map(grid.tasks.map((t, i) => [t.id, i]));
    const position = (id: string) => order.get(id) ?? grid.tasks.length;
    return [...(gantt.data?.rows ?? [])].sort((a, b) => position(a[0]) - position(b[0]) || a[1] - b[1] || a[2] - b[2]);
  }, [gantt.data, grid.tasks]);

  // The axis: from the first queue or start to the last end (or now, while tries run).
  const now = Date.now();
  let from = Infinity;
  let to = -Infinity;
  for (const [, , , , queued, start, end] of rows) {
    const first = queued ?? start;
    if (first !== null) from = Math.min(from, first);
    if (start !== null) to = Math.max(to, end ?? now);
  }
  const span = Number.isFinite(from) && to > from ? to - from : 1000;
  const percent = (ms: number) => `${((ms - from) / span) * 100}%`;

  const { ref, first, last } = useVirtualRows(rows.length, ROW_HEIGHT);
  const click = (event: MouseEvent) => {
    const row = (event.target as HTMLElement).closest<HTMLElement>("[data-task-id]");
    if (row) onSelect({ runId, taskId: row.dataset.taskId });
  };

  const shown: preact.JSX.Element[] = [];
  for (let i = first; i < last; i++) shown.push(<GanttBar key={i} row={rows[i]!} top={i * ROW_HEIGHT} now={now} percent={percent} selected={rows[i]![0] === selection.taskId} />);
  return (
    <div class="gantt-wrap">
      <div class="toolbar">
        <RunPicker runs={grid.runs} runId={runId} onPick={(picked) => onSelect({ runId: picked, taskId: selection.taskId })} testId="gantt-run" />
        {gantt.data && (
          <span class="muted">
            {rows.length} tries · {when(gantt.data.start_date)} · {duration(Number.isFinite(from) ? span / 1000 : null)}
          </span>
        )}
      </div>
      {gantt.error && <div class="error">{gantt.error}</div>}
      {!runId && <p class="muted">No runs yet: trigger one.</p>}
      <div class="gantt-scroll" ref={ref} data-testid="gantt" data-row-count={rows.length} onClick={click}>
        <div class="gantt-axis">
          <div class="gantt-name muted">task · try</div>
          <div class="gantt-track">
            {Number.isFinite(from) &&
              Array.from({ length: TICKS }, (_, k) => (
                <span key={k} class="gantt-tick" style={{ left: `${(k / (TICKS - 1)) * 100}%` }}>
                  +{duration((span * k) / (TICKS - 1) / 1000)}
                </span>
              ))}
          </div>
        </div>
        <div class="gantt-body" style={{ height: rows.length * ROW_HEIGHT }}>
          {shown}
        </div>
      </div>
    </div>
  );
}

function GanttBar({ row, top, now, percent, selected }: { row: GanttRow; top: number; now: number; percent: (ms: number) => string; selected: boolean }) {
  const [taskId, mapIndex, tryNumber, state, queued, start, end] = row;
  const label = `${taskId}${mapIndex >= 0 ? ` [${mapIndex}]` : ""} · ${tryNumber}`;
  const colour = stateColour(state === "none" ? null : state);
  const title = `${label}: ${state}${queued ? `\nqueued ${when(new Date(queued).toISOString())}` : ""}${start ? `\nstarted ${when(new Date(start).toISOString())}` : ""}${end ? `\nended ${when(new Date(end).toISOString())}` : ""}`;
  const width = (a: number, b: number) => `calc(${percent(b)} - ${percent(a)})`;
  return (
    <div class={`gantt-row${selected ? " selected" : ""}`} style={{ top }} data-testid="gantt-row" data-task-id={taskId} data-state={state} title={title}>
      <div class="gantt-name">{label}</div>
      <div class="gantt-track">
        {queued !== null && <span class="gantt-queued" style={{ left: percent(queued), width: width(queued, start ?? now), background: colour }} />}
        {start !== null && <span class="gantt-bar" style={{ left: percent(start), width: width(start, end ?? now), background: colour }} />}
      </div>
    </div>
  );
}
