/** The Details tab: the selected run (default the latest) and the DAG's own settings. */
import { api, enc } from "../../api.js";
import { when } from "../../format.js";
import { usePoll } from "../../hooks.js";
import { RunActions, RunFacts, useRun } from "./selection-panel.js";

interface DagDetails {
  dag_id: string;
  description: string | null;
  fileloc: string;
  timetable_summary: string | null;
  timetable_description: string | null;
  timezone: string | null;
  start_date: string | null;
  end_date: string | null;
  catchup: boolean;
  max_active_runs: number | null;
  max_active_tasks: number;
  dag_run_timeout: string | null;
  is_paused: boolean;
  owners: string[];
  tags: { name: string }[];
  last_parsed_time: string | null;
  next_dagrun_run_after: string | null;
  params: Record<string, { value: unknown; description: string | null }> | null;
}

export function DetailsView({ dagId, runId, onChanged }: { dagId: string; runId: string | undefined; onChanged: () => void }) {
  const details = usePoll(() => api<DagDetails>(`/api/v2/dags/${enc(dagId)}/details`), [dagId], 10_000);
  const run = useRun(dagId, runId);
  const d = details.data;
  return (
    <div class="details-columns" data-testid="details">
      <section class="panel">
        <h2 class="side-title">Run {runId ? <span class="mono">{runId}</span> : ""}</h2>
        {!runId && <p class="muted">No runs yet.</p>}
        {run.error && <div class="error">{run.error}</div>}
        {run.data && <RunFacts run={run.data} />}
        {runId && <RunActions dagId={dagId} runId={runId} onDone={() => (run.reload(), onChanged())} />}
      </section>
      <section class="panel">
        <h2 class="side-title">DAG</h2>
        {details.error && <div class="error">{details.error}</div>}
        {d && (
          <dl class="facts">
            <dt>DAG id</dt>
            <dd class="mono">{d.dag_id}</dd>
            <dt>Description</dt>
            <dd>{d.description ?? <span class="muted">none</span>}</dd>
            <dt>File</dt>
            <dd class="mono">{d.fileloc}</dd>
            <dt>Schedule</dt>
            <dd>
              <span class="mono">{d.timetable_summary ?? "None"}</span> {d.timetable_description && <span class="muted">{d.timetable_description}</span>}
            </dd>
            <dt>Timezone</dt>
            <dd>{d.timezone}</dd>
            <dt>Start · end</dt>
            <dd>
              {when(d.start_date) || "none"} · {when(d.end_date) || "none"}
            </dd>
            <dt>Catchup</dt>
            <dd>{String(d.catchup)}</dd>
            <dt>Max active runs · tasks</dt>
            <dd>
              {d.max_active_runs ?? "no limit"} · {d.max_active_tasks}
            </dd>
            <dt>Run timeout</dt>
            <dd>{d.dag_run_timeout ?? "none"}</dd>
            <dt>Paused</dt>
            <dd>{String(d.is_paused)}</dd>
            <dt>Owners</dt>
            <dd>{d.owners.join(", ")}</dd>
            <dt>Last parsed</dt>
            <dd>{when(d.last_parsed_time)}</dd>
            <dt>Next run</dt>
            <dd>{when(d.next_dagrun_run_after) || "none"}</dd>
            <dt>Params</dt>
            <dd>
              <pre class="conf">{JSON.stringify(Object.fromEntries(Object.entries(d.params ?? {}).map(([k, p]) => [k, p.value])), null, 2)}</pre>
            </dd>
          </dl>
        )}
      </section>
    </div>
  );
}
