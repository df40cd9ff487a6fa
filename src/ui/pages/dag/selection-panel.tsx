/**
 * Beside the grid and the graph: what is selected. A task instance (state, dates, tries, its log,
 * clear and mark), or a run (state, dates, conf, note, version; clear and mark), or a hint.
 */
import { api, enc } from "../../api.js";
import { useDialog } from "../../components/modal.js";
import { StateBadge } from "../../components/state.js";
import { duration, secondsBetween, when } from "../../format.js";
import { usePoll } from "../../hooks.js";
import { href } from "../../router.js";
import { useCan } from "../../session.js";
import { TaskActions } from "../../components/task-actions.js";
import { ClearRunDialog, MarkRunDialog } from "./actions.js";
import type { Selection } from "./types.js";

interface TaskInstance {
  task_id: string;
  map_index: number;
  state: string | null;
  start_date: string | null;
  end_date: string | null;
  queued_when: string | null;
  duration: number | null;
  try_number: number;
  max_tries: number;
  operator: string | null;
  pool: string;
  queue: string | null;
  hostname: string | null;
  note: string | null;
}

export interface DagRun {
  dag_run_id: string;
  state: string;
  run_type: string;
  logical_date: string | null;
  run_after: string | null;
  queued_at: string | null;
  start_date: string | null;
  end_date: string | null;
  conf: Record<string, unknown>;
  note: string | null;
  triggered_by: string | null;
  dag_versions: { version_number: number }[];
}

export function SelectionPanel({ dagId, selection, onChanged }: { dagId: string; selection: Selection; onChanged: () => void }) {
  if (selection.runId && selection.taskId) return <TaskPanel key={`${selection.runId}/${selection.taskId}`} dagId={dagId} runId={selection.runId} taskId={selection.taskId} onChanged={onChanged} />;
  if (selection.runId) return <RunPanel key={selection.runId} dagId={dagId} runId={selection.runId} onChanged={onChanged} />;
  return <p class="muted">Click a cell for its task instance, or a run's bar for the run.</p>;
}

/** The run's mapped instances summarised: "3 instances: 2 success, 1 failed". */
function mappedSummary(instances: TaskInstance[]): string {
  const counts = new Map<string, number>();
  for (const ti of instances) counts.set(ti.state ?? "no status", (counts.get(ti.state ?? "no status") ?? 0) + 1);
  return `${instances.length} instances: ${[...counts].map(([state, n]) => `${n} ${state}`).join(", ")}`;
}

function TaskPanel({ dagId, runId, taskId, onChanged }: { dagId: string; runId: string; taskId: string; onChanged: () => void }) {
  const loaded = usePoll(
    () => api<{ task_instances: TaskInstance[] }>(`/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances`, { query: { task_id: taskId, limit: 100 } }),
    [dagId, runId, taskId],
  );
  const instances = loaded.data?.task_instances ?? [];
  const ti = instances[0];
  const done = () => (loaded.reload(), onChanged());
  return (
    <div data-testid="task-panel" data-task-id={taskId} data-run-id={runId}>
      <h2 class="side-title">{taskId}</h2>
      <div class="muted mono">{runId}</div>
      {loaded.error && <div class="error">{loaded.error}</div>}
      {loaded.data && !ti && <p class="muted">This run has no instance of this task (another DAG version).</p>}
      {ti && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd data-testid="ti-state" data-state={ti.state ?? "none"}>
              <StateBadge state={instances.length > 1 ? worst(instances) : ti.state} />
            </dd>
            {instances.length > 1 && (
              <>
                <dt>Mapped</dt>
                <dd>{mappedSummary(instances)}</dd>
              </>
            )}
            <dt>Try</dt>
            <dd>
              {ti.try_number} of {ti.max_tries + 1}
            </dd>
            <dt>Queued</dt>
            <dd>{when(ti.queued_when)}</dd>
            <dt>Started</dt>
            <dd>{when(ti.start_date)}</dd>
            <dt>Ended</dt>
            <dd>{when(ti.end_date)}</dd>
            <dt>Duration</dt>
            <dd>{duration(ti.duration ?? secondsBetween(ti.start_date, ti.end_date))}</dd>
            <dt>Operator</dt>
            <dd>{ti.operator}</dd>
            <dt>Pool · queue</dt>
            <dd>
              {ti.pool} · {ti.queue}
            </dd>
            {ti.hostname && (
              <>
                <dt>Host</dt>
                <dd>{ti.hostname}</dd>
              </>
            )}
            {ti.note && (
              <>
                <dt>Note</dt>
                <dd>{ti.note}</dd>
              </>
            )}
          </dl>
          <div class="side-actions">
            <a class="button" href={href(["dags", dagId, "runs", runId, "tasks", taskId])} data-testid="open-task-log">
              Log and details
            </a>
            <TaskActions task={{ dagId, runId, taskId, mappedCount: ti.map_index >= 0 ? instances.length : 0 }} onChanged={done} />
          </div>
        </>
      )}
    </div>
  );
}

/** A mapped task's most urgent state, as the grid's cell shows it. */
const URGENCY = ["failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "deferred", "running", "restarting", null, "success", "skipped", "removed"];
function worst(instances: TaskInstance[]): string | null {
  return instances.map((ti) => ti.state).sort((a, b) => URGENCY.indexOf(a) - URGENCY.indexOf(b))[0] ?? null;
}

export function RunFacts({ run }: { run: DagRun }) {
  return (
    <dl class="facts">
      <dt>State</dt>
      <dd data-testid="run-state" data-state={run.state}>
        <StateBadge state={run.state} />
      </dd>
      <dt>Run type</dt>
      <dd>
        {run.run_type}
        {run.triggered_by ? ` (${run.triggered_by})` : ""}
      </dd>
      <dt>Logical date</dt>
      <dd>{when(run.logical_date)}</dd>
      <dt>Run after</dt>
      <dd>{when(run.run_after)}</dd>
      <dt>Queued</dt>
      <dd>{when(run.queued_at)}</dd>
      <dt>Started</dt>
      <dd>{when(run.start_date)}</dd>
      <dt>Ended</dt>
      <dd>{when(run.end_date)}</dd>
      <dt>Duration</dt>
      <dd>{duration(secondsBetween(run.start_date, run.end_date))}</dd>
      <dt>DAG version</dt>
      <dd>{run.dag_versions[0]?.version_number ?? ""}</dd>
      <dt>Note</dt>
      <dd>{run.note ?? <span class="muted">none</span>}</dd>
      <dt>Conf</dt>
      <dd>
        <pre class="conf">{JSON.stringify(run.conf, null, 2)}</pre>
      </dd>
    </dl>
  );
}

export function RunActions({ dagId, runId, onDone }: { dagId: string; runId: string; onDone: () => void }) {
  const canOperate = useCan("user");
  const { dialog, open, close } = useDialog();
  if (!canOperate) return null;
  const target = { dagId, runId, onDone, onClose: close };
  return (
    <div class="side-actions">
      <button onClick={() => open(<ClearRunDialog {...target} />)} data-testid="clear-run">
        Clear run
      </button>
      <button onClick={() => open(<MarkRunDialog {...target} state="success" />)} data-testid="mark-success">
        Mark success
      </button>
      <button onClick={() => open(<MarkRunDialog {...target} state="failed" />)} data-testid="mark-failed">
        Mark failed
      </button>
      {dialog}
    </div>
  );
}

export function useRun(dagId: string, runId: string | undefined) {
  return usePoll(async () => (runId ? api<DagRun>(`/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}`) : undefined), [dagId, runId]);
}

function RunPanel({ dagId, runId, onChanged }: { dagId: string; runId: string; onChanged: () => void }) {
  const run = useRun(dagId, runId);
  return (
    <div data-testid="run-panel" data-run-id={runId}>
      <h2 class="side-title mono">{runId}</h2>
      {run.error && <div class="error">{run.error}</div>}
      {run.data && <RunFacts run={run.data} />}
      <RunActions dagId={dagId} runId={runId} onDone={() => (run.reload(), onChanged())} />
    </div>
  );
}
