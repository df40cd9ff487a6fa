/**
 * A DAG's page, `#/dags/<dag_id>?tab=grid|graph|gantt|code|details&run=<run_id>&task=<task_id>`:
 * the header, and the tab's view of the latest runs. The selection lives in the address, so it can
 * be shared and survives the polls that keep the views live.
 */
import { api, enc } from "../../api.js";
import { usePoll } from "../../hooks.js";
import { href, navigate, type Route } from "../../router.js";
import { CodeView } from "./code-view.js";
import { DagHeader, DagTabs, TABS, type Tab } from "./dag-header.js";
import { DetailsView } from "./details-view.js";
import { GanttView } from "./gantt-view.js";
import { GraphView } from "./graph-view.js";
import { GridView } from "./grid-view.js";
import { SelectionPanel } from "./selection-panel.js";
import type { Dag, GridData, Selection } from "./types.js";

/** Runs the grid shows, as Airflow's default. */
const GRID_RUNS = 25;

export function DagPage({ dagId, route }: { dagId: string; route: Route }) {
  const asked = route.query.get("tab") ?? "grid";
  const tab: Tab = (TABS as readonly string[]).includes(asked) ? (asked as Tab) : "grid";
  const selection: Selection = { runId: route.query.get("run") ?? undefined, taskId: route.query.get("task") ?? undefined };
  const askedVersion = route.query.get("version");

  const dag = usePoll(() => api<Dag>(`/api/v2/dags/${enc(dagId)}`), [dagId], 10_000);
  const grid = usePoll(() => api<GridData>(`/ui/api/dags/${enc(dagId)}/grid`, { query: { runs: GRID_RUNS } }), [dagId]);

  const go = (change: Record<string, string | undefined>) =>
    navigate(href(["dags", dagId], { tab, run: selection.runId, task: selection.taskId, version: askedVersion ?? undefined, ...change }));
  const select = (s: Selection) => go({ run: s.runId, task: s.taskId });

  const data = grid.data;
  const selectedRun = data?.runs.find((r) => r.run_id === selection.runId) ?? data?.runs.at(-1);
  const withPanel = (view: preact.ComponentChildren) => (
    <div class="dag-main">
      <div class="dag-view">{view}</div>
      <aside class="panel dag-side" data-testid="selection">
        <SelectionPanel dagId={dagId} selection={selection} onChanged={grid.reload} />
      </aside>
    </div>
  );

  return (
    <div class="dag-page" data-dag-id={dagId}>
      <DagHeader dagId={dagId} dag={dag} />
      <DagTabs dagId={dagId} tab={tab} query={{ run: selection.runId, task: selection.taskId }} />
      {grid.error && <div class="error">{grid.error}</div>}
      {!data && !grid.error && <p class="muted">Loading…</p>}
      {data && tab === "grid" && withPanel(<GridView grid={data} selection={selection} onSelect={select} />)}
      {data && tab === "graph" && withPanel(<GraphView dagId={dagId} grid={data} selection={selection} onSelect={select} />)}
      {data && tab === "gantt" && withPanel(<GanttView dagId={dagId} grid={data} selection={selection} onSelect={select} />)}
      {data && tab === "code" && (
        <CodeView dagId={dagId} version={askedVersion ? Number(askedVersion) : (selectedRun?.dag_version_number ?? undefined)} onVersion={(v) => go({ version: String(v) })} />
      )}
      {data && tab === "details" && <DetailsView dagId={dagId} runId={selectedRun?.run_id} onChanged={grid.reload} />}
    </div>
  );
}
