/** The workers (GET /api/v2/workers, as `aloft workers list`) and how many tries wait in each queue. */
import { api } from "../../api.js";
import { stateColour, when } from "../../format.js";
import { usePoll } from "../../hooks.js";

interface Worker {
  name: string;
  state: string;
  kind: string;
  host: string;
  pid: number;
  queues: string;
  concurrency: number;
  running: number;
  done: number;
  failed: number;
  last_heartbeat: string;
  heartbeat_age_s: number;
  started_at: string;
  version: string;
  reason?: string;
}

interface Queue {
  queue: string;
  queued_tries: number;
  /** A number, or why there is none ("n/a (local executor)", "unreachable (…)"). */
  waiting_in_broker: number | string;
  workers: number;
}

/** Worker states in the colours of the task states they resemble. */
const WORKER_STATE: Record<string, string> = { running: "running", stopping: "up_for_retry", stopped: "removed", dead: "failed" };

export function WorkersPanel() {
  const overview = usePoll(() => api<{ workers: Worker[]; queues: Queue[] }>("/api/v2/workers"), [], 3000);
  const data = overview.data;
  return (
    <>
      <h2>Workers</h2>
      {overview.error && <div class="error">{overview.error}</div>}
      <table class="list" data-testid="workers">
        <thead>
          <tr>
            <th>Worker</th>
            <th>State</th>
            <th>Kind</th>
            <th>Host</th>
            <th>Queues</th>
            <th>Running</th>
            <th>Tries done / failed</th>
            <th>Heartbeat</th>
            <th>Version</th>
            <th>Started</th>
          </tr>
        </thead>
        <tbody>
          {data?.workers.map((w) => (
            <tr key={w.name} data-worker={w.name}>
              <td class="mono">{w.name}</td>
              <td>
                <WorkerState worker={w} />
              </td>
              <td>{w.kind}</td>
              <td class="mono">
                {w.host}:{w.pid}
              </td>
              <td>
                {w.queues.split(",").filter(Boolean).map((q) => (
                  <span key={q} class="tag">
                    {q}
                  </span>
                ))}
              </td>
              <td>
                {w.running} / {w.concurrency}
              </td>
              <td>
                {w.done} / <span class={w.failed > 0 ? "cluster-failed" : ""}>{w.failed}</span>
              </td>
              <td title={when(w.last_heartbeat)} class={w.state === "running" && w.heartbeat_age_s > 30 ? "cluster-stale" : ""}>
                {w.heartbeat_age_s} s ago
              </td>
              <td class="mono">{w.version}</td>
              <td>{when(w.started_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.workers.length === 0 && <p class="muted">No workers yet: a scheduler with the local executor, or `aloft worker` with a broker, registers here.</p>}

      <h2>Queues</h2>
      <table class="list" data-testid="queues">
        <thead>
          <tr>
            <th>Queue</th>
            <th>Queued tries</th>
            <th>Waiting in the broker</th>
            <th>Remote workers taking it</th>
          </tr>
        </thead>
        <tbody>
          {data?.queues.map((q) => (
            <tr key={q.queue} data-queue={q.queue}>
              <td class="mono">{q.queue}</td>
              <td>{q.queued_tries}</td>
              <td class={typeof q.waiting_in_broker === "string" ? "muted" : ""}>{q.waiting_in_broker}</td>
              <td>{q.workers}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The worker's state, coloured as the task state it resembles; why it stopped or died on hover. */
function WorkerState({ worker }: { worker: Worker }) {
  return (
    <span class="badge" data-state={worker.state} title={worker.reason} style={{ background: stateColour(WORKER_STATE[worker.state]) }}>
      {worker.state}
    </span>
  );
}
