/** The top of the task instance page: where it is (breadcrumbs), its state, and the facts of its current try. */
import { StateBadge } from "../../components/state.js";
import { TaskActions, TaskNote, type TaskInRun } from "../../components/task-actions.js";
import { duration, secondsBetween, when } from "../../format.js";
import { href } from "../../router.js";
import type { TaskInstance } from "./types.js";

export function Breadcrumbs({ dagId, runId, taskId, mapIndex }: { dagId: string; runId: string; taskId: string; mapIndex?: number }) {
  return (
    <nav class="breadcrumbs" data-testid="breadcrumbs">
      <a href="#/dags">DAGs</a>
      <span>/</span>
      <a href={href(["dags", dagId])}>{dagId}</a>
      <span>/</span>
      <a href={href(["dags", dagId], { tab: "grid", run: runId })} class="mono">
        {runId}
      </a>
      <span>/</span>
      <a href={href(["dags", dagId], { tab: "grid", run: runId, task: taskId })}>{taskId}</a>
      {mapIndex !== undefined && mapIndex >= 0 && <span class="muted">[{mapIndex}]</span>}
    </nav>
  );
}

export function InstanceHeader({ ti, mappedCount, onChanged }: { ti: TaskInstance; mappedCount: number; onChanged: () => void }) {
  const task: TaskInRun = { dagId: ti.dag_id, runId: ti.dag_run_id, taskId: ti.task_id, mappedCount };
  const running = ti.start_date !== null && ti.end_date === null;
  return (
    <div class="panel ti-header">
      <div class="toolbar">
        <h1 class="ti-title">
          {ti.task_id}
          {ti.map_index >= 0 && <span class="muted"> [{ti.map_index}]</span>}
        </h1>
        <span data-testid="ti-state" data-state={ti.state ?? "none"}>
          <StateBadge state={ti.state} />
        </span>
        <span class="grow" />
        <TaskActions task={task} onChanged={onChanged} />
      </div>
      <dl class="facts ti-facts">
        <dt>Operator</dt>
        <dd class="mono">{ti.operator}</dd>
        <dt>Try</dt>
        <dd data-testid="ti-try">{ti.try_number === 0 ? "none yet" : `${ti.try_number} of ${ti.max_tries + 1}`}</dd>
        <dt>Started</dt>
        <dd>{when(ti.start_date) || <span class="muted">not yet</span>}</dd>
        <dt>Ended</dt>
        <dd>{when(ti.end_date) || <span class="muted">{running ? "running" : "not yet"}</span>}</dd>
        <dt>Duration</dt>
        <dd>{duration(ti.duration ?? secondsBetween(ti.start_date, ti.end_date))}</dd>
        <dt>Host</dt>
        <dd class="mono">
          {ti.hostname ?? ""}
          {ti.executor && <span class="muted"> ({ti.executor})</span>}
        </dd>
        <dt>Pool</dt>
        <dd>
          {ti.pool}
          {ti.pool_slots !== 1 && <span class="muted"> ({ti.pool_slots} slots)</span>}
        </dd>
        <dt>Queue</dt>
        <dd>{ti.queue}</dd>
        <dt>Logical date</dt>
        <dd>{when(ti.logical_date) || <span class="muted">none</span>}</dd>
        <dt>Note</dt>
        <dd>
          <TaskNote task={task} note={ti.note} onChanged={onChanged} />
        </dd>
      </dl>
    </div>
  );
}
