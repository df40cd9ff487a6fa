/**
 * The graph: the DAG's tasks as boxes and dependencies as edges, laid out by the layout worker and
 * drawn on a canvas, each box in the state of its instance in the chosen run. The structure is the
 * run's DAG version's; its layout is computed once per version.
 */
import { useMemo, useState } from "preact/hooks";
import { api, enc } from "../../api.js";
import { stateColour } from "../../format.js";
import { GraphCanvas } from "../../graph/graph-canvas.js";
import type { LayoutRequest } from "../../graph/layout-types.js";
import { useLayout } from "../../graph/use-layout.js";
import { usePoll } from "../../hooks.js";
import { cellState, type GridData, type Selection, type Structure } from "./types.js";
import { RunPicker } from "./run-picker.js";

const BOX_HEIGHT = 26;
/** Box width from the label's length, within bounds (the canvas clips longer labels). */
const boxWidth = (label: string) => Math.min(240, Math.max(60, label.length * 7 + 14));

/** Structures already fetched, by DAG and version: they never change. */
const structures = new Map<string, Promise<Structure>>();
function fetchStructure(dagId: string, version: number | undefined): Promise<Structure> {
  const key = `${dagId}@${version ?? "current"}`;
  let pending = structures.get(key);
  if (!pending) {
    pending = api<Structure>(`/ui/api/dags/${enc(dagId)}/structure`, { query: { version_number: version } });
    structures.set(key, pending);
    pending.catch(() => structures.delete(key));
  }
  return pending;
}

export function GraphView({ dagId, grid, selection, onSelect }: { dagId: string; grid: GridData; selection: Selection; onSelect: (s: Selection) => void }) {
  const run = grid.runs.find((r) => r.run_id === selection.runId) ?? grid.runs.at(-1);
  const version = run?.dag_version_number ?? undefined;
  const structure = usePoll(() => fetchStructure(dagId, version), [dagId, version], 0);
  const request = useMemo<LayoutRequest | undefined>(() => {
    const tasks = structure.data?.tasks;
    if (!tasks) return undefined;
    const known = new Set(tasks.map((t) => t.id));
    return {
      nodes: tasks.map((t) => ({ id: t.id, width: boxWidth(t.id), height: BOX_HEIGHT })),
      edges: tasks.flatMap((t) => t.upstream.filter((u) => known.has(u)).map((u): [string, string] => [u, t.id])),
    };
  }, [structure.data]);
  const { layout, error } = useLayout(structure.data ? `${dagId}@${structure.data.version_number ?? "current"}` : undefined, request);

  // Box colours: the chosen run's states, recomputed when a poll brings new ones.
  const fills = useMemo(() => {
    const out = new Map<string, string>();
    if (!run) return out;
    grid.tasks.forEach((task, i) => {
      const state = cellState(grid, run, i);
      if (state) out.set(task.id, stateColour(state === "none" ? null : state));
    });
    return out;
  }, [grid, run]);

  const [search, setSearch] = useState("");
  const find = (event: Event) => {
    event.preventDefault();
    const wanted = search.trim();
    const task = structure.data?.tasks.find((t) => t.id === wanted) ?? structure.data?.tasks.find((t) => t.id.includes(wanted));
    if (task) onSelect({ runId: run?.run_id, taskId: task.id });
  };

  const laidOut = Boolean(layout);
  return (
    <div class="graph-wrap">
      <form class="toolbar graph-toolbar" onSubmit={find}>
        <RunPicker runs={grid.runs} runId={run?.run_id} onPick={(picked) => onSelect({ runId: picked, taskId: selection.taskId })} testId="graph-run" />
        <input type="search" placeholder="Find a task" value={search} onInput={(e) => setSearch(e.currentTarget.value)} data-testid="graph-find" />
        <span class="muted">
          {structure.data ? `${structure.data.tasks.length} tasks, version ${structure.data.version_number ?? "?"}` : "loading the structure…"} · drag to pan, wheel to zoom
        </span>
      </form>
      {(structure.error || error) && <div class="error">{structure.error ?? error}</div>}
      <div class="graph" data-testid="graph" data-node-count={structure.data?.tasks.length ?? 0} data-laid-out={laidOut ? "true" : "false"} data-run-id={run?.run_id ?? ""}>
        {layout ? (
          <GraphCanvas layout={layout} fills={fills} selectedId={selection.taskId} onSelect={(taskId) => onSelect({ runId: run?.run_id, taskId })} />
        ) : (
          !structure.error && !error && <p class="muted graph-wait">Laying out {structure.data?.tasks.length ?? ""} tasks…</p>
        )}
      </div>
    </div>
  );
}
