/**
 * The cluster page: the scheduler's health, its HA cluster (leader, epoch, lease, nodes, the
 * failover timeline and its transitions), and the workers and queues. Updates every 3 s.
 * A standalone scheduler holds the `scheduler` lease without joining: it has a leader, no nodes.
 */
import { api, enc } from "../api.js";
import { when } from "../format.js";
import { usePoll } from "../hooks.js";
import { href, type Route } from "../router.js";
import { ms, RoleBadge, type ClusterStatus, type ClusterSummary, type HaEvent, type HaNode } from "./cluster/ha-shared.js";
import { HaTimeline } from "./cluster/ha-timeline.js";
import { WorkersPanel } from "./cluster/workers.js";

interface Health {
  metadatabase: { status: string };
  scheduler: { status: string; latest_scheduler_heartbeat: string | null; leader: string | null; epoch: number | null };
}

interface Events {
  events: HaEvent[];
  total_entries: number;
}

/** The timeline draws this many of the newest transitions. */
const TIMELINE_EVENTS = 100;
const EVENTS_PAGE = 20;
/** A node not heard from for this long is shown as stale (controllers write every few hundred ms). */
const STALE_MS = 5000;

export function ClusterPage({ route }: { route: Route }) {
  const chosen = route.query.get("name") ?? undefined;
  const eventsOffset = Math.max(0, Number(route.query.get("events_offset") ?? 0) || 0);

  const overview = usePoll(async () => {
    const [health, list] = await Promise.all([api<Health>("/api/v2/monitor/health"), api<{ clusters: ClusterSummary[] }>("/api/v2/ha/clusters")]);
    const names = list.clusters.map((c) => c.name);
    const name = chosen ?? (names.includes("scheduler") ? "scheduler" : names[0]);
    if (!name) return { health, clusters: list.clusters, name };
    const path = `/api/v2/ha/clusters/${enc(name)}`;
    const [status, timeline, page] = await Promise.all([
      api<ClusterStatus>(path),
      api<Events>(`${path}/events`, { query: { limit: TIMELINE_EVENTS } }),
      api<Events>(`${path}/events`, { query: { limit: EVENTS_PAGE, offset: eventsOffset } }),
    ]);
    return { health, clusters: list.clusters, name, status, timeline, page };
  }, [chosen, eventsOffset]);

  const data = overview.data;
  const status = data?.status;
  return (
    <div data-testid="cluster">
      <h1>Cluster</h1>
      {overview.error && <div class="error">{overview.error}</div>}
      {data && data.clusters.length > 1 && (
        <nav class="tabs">
          {data.clusters.map((c) => (
            <a key={c.name} href={href(["cluster"], { name: c.name })} class={c.name === data.name ? "active" : ""} data-testid={`cluster-${c.name}`}>
              {c.name} <span class="muted">({c.node_count} nodes)</span>
            </a>
          ))}
        </nav>
      )}
      <div class="cluster-summary">
        {data && <SchedulerHealth health={data.health} />}
        {data && <LeaderPanel name={data.name} status={status} />}
      </div>

      {status && (
        <>
          <h2>Nodes</h2>
          <div data-testid="ha-nodes">
            {status.nodes.length > 0 ? (
              <NodeTable status={status} />
            ) : (
              <p class="notice">
                Standalone: no failover controller joined cluster <code>{status.cluster}</code>; the scheduler runs in-process
                {status.leader && <> in <code>{status.leader.node_id}</code></>}. Run <code>aloft scheduler --node-id …</code> on two machines for a
                failover cluster (see docs/ha.md).
              </p>
            )}
          </div>

          <h2>Failover timeline</h2>
          <div class="panel" data-testid="ha-timeline">
            {status.nodes.length === 0 && !data.timeline?.total_entries ? (
              <p class="muted">No failovers: a standalone scheduler has no standby to take over from it.</p>
            ) : (
              <HaTimeline events={data.timeline?.events ?? []} nodes={status.nodes} />
            )}
          </div>

          {data.page && data.page.total_entries > 0 && (
            <>
              <h2>Transitions</h2>
              <EventTable page={data.page} offset={eventsOffset} route={route} />
            </>
          )}
        </>
      )}

      <WorkersPanel />
    </div>
  );
}

function SchedulerHealth({ health }: { health: Health }) {
  const scheduler = health.scheduler;
  const heartbeat = scheduler.latest_scheduler_heartbeat;
  return (
    <section class="panel" data-testid="scheduler-health">
      <h2 style={{ marginTop: 0 }}>Scheduler health</h2>
      <dl class="facts">
        <dt>Scheduler</dt>
        <dd>
          <RoleBadge role={scheduler.status} />
        </dd>
        <dt>Heartbeat</dt>
        <dd>{heartbeat ? `${when(heartbeat)} (${ms(Math.max(0, Date.now() - Date.parse(heartbeat)))} ago)` : <span class="muted">never: no scheduler has run on this database</span>}</dd>
        <dt>Lease holder</dt>
        <dd class="mono">{scheduler.leader ?? "none"}</dd>
        <dt>Epoch</dt>
        <dd>{scheduler.epoch ?? "none"}</dd>
        <dt>Metadata DB</dt>
        <dd>
          <RoleBadge role={health.metadatabase.status} />
        </dd>
      </dl>
    </section>
  );
}

function LeaderPanel({ name, status }: { name: string | undefined; status: ClusterStatus | undefined }) {
  if (!name) {
    return (
      <section class="panel" data-testid="ha-leader">
        <h2 style={{ marginTop: 0 }}>Leader</h2>
        <p class="muted">No HA cluster: no scheduler or controller has taken a lease on this database yet.</p>
      </section>
    );
  }
  if (!status) return null;
  const leader = status.leader;
  const leaderNode = leader ? status.nodes.find((n) => n.node_id === leader.node_id) : undefined;
  return (
    <section class="panel" data-testid="ha-leader" data-leader={leader?.node_id ?? ""}>
      <h2 style={{ marginTop: 0 }}>
        Leader of <code>{status.cluster}</code>
      </h2>
      <dl class="facts">
        <dt>Leader</dt>
        <dd>{leader ? <strong class="mono">{leader.node_id}</strong> : <span class="cluster-failed">none: the lease expired and no node has taken it</span>}</dd>
        <dt>Epoch</dt>
        <dd>{status.epoch ?? "none"}</dd>
        {leader && (
          <>
            <dt>Lease</dt>
            <dd>
              expires in {ms(leader.expires_in_ms)}, renewed {ms(leader.renewed_ms_ago)} ago
            </dd>
          </>
        )}
        {leaderNode && (
          <>
            <dt>Child process</dt>
            <dd>
              {leaderNode.child_pid ? `pid ${leaderNode.child_pid} ` : "none "}
              {leaderNode.child_health && <RoleBadge role={leaderNode.child_health} />}
            </dd>
          </>
        )}
        <dt>Mode</dt>
        <dd>{status.nodes.length > 0 ? `failover cluster of ${status.nodes.length} node${status.nodes.length === 1 ? "" : "s"}` : "standalone (in-process scheduler)"}</dd>
      </dl>
    </section>
  );
}

function NodeTable({ status }: { status: ClusterStatus }) {
  return (
    <table class="list">
      <thead>
        <tr>
          <th>Node</th>
          <th>Role</th>
          <th>Host</th>
          <th>PID</th>
          <th>Priority</th>
          <th>Child process</th>
          <th>Last seen</th>
          <th>Version</th>
          <th>Started</th>
        </tr>
      </thead>
      <tbody>
        {status.nodes.map((n: HaNode) => {
          const leads = status.leader?.node_id === n.node_id;
          return (
            <tr key={n.node_id} data-node={n.node_id} data-role={n.role} class={leads ? "cluster-leader" : ""}>
              <td class="mono">
                {n.node_id}
                {leads && (
                  <span class="badge cluster-leader-badge" title={`holds the lease, epoch ${status.leader!.epoch}`}>
                    leader
                  </span>
                )}
              </td>
              <td>
                <RoleBadge role={n.role} />
              </td>
              <td class="mono">{n.host}</td>
              <td class="mono">{n.pid}</td>
              <td>
                {n.priority}
                {n.no_preempt && <span class="muted"> (no preempt)</span>}
              </td>
              <td>
                {n.role === "lost" ? (
                  // A lost node cannot report: what it said last is history, not health.
                  <span class="muted">{n.child_pid ? `last said pid ${n.child_pid}, ${n.child_health ?? "no health"}` : "none"}</span>
                ) : (
                  <>
                    {n.child_pid ? <span class="mono">pid {n.child_pid} </span> : <span class="muted">none </span>}
                    {n.child_health && <RoleBadge role={n.child_health} />}
                  </>
                )}
              </td>
              <td class={n.last_seen_ms_ago > STALE_MS ? "cluster-stale" : ""}>{ms(n.last_seen_ms_ago)} ago</td>
              <td class="mono">{n.version}</td>
              <td>{when(n.started_at)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function EventTable({ page, offset, route }: { page: Events | undefined; offset: number; route: Route }) {
  if (!page) return null;
  const at = (next: number) => {
    const query = Object.fromEntries(route.query);
    return href(["cluster"], { ...query, events_offset: next || undefined });
  };
  return (
    <>
      <table class="list" data-testid="ha-events">
        <thead>
          <tr>
            <th>Time</th>
            <th>Node</th>
            <th>Transition</th>
            <th>Reason</th>
            <th>Epoch</th>
          </tr>
        </thead>
        <tbody>
          {page.events.map((e, i) => (
            <tr key={`${e.at}-${e.node_id}-${i}`} data-to={e.to}>
              <td>{when(e.at)}</td>
              <td class="mono">{e.node_id}</td>
              <td>
                <RoleBadge role={e.from} /> → <RoleBadge role={e.to} />
              </td>
              <td>{e.reason}</td>
              <td>{e.epoch ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.total_entries > EVENTS_PAGE && (
        <div class="toolbar" style={{ marginTop: 10 }}>
          <a class="button" href={offset > 0 ? at(Math.max(0, offset - EVENTS_PAGE)) : undefined} data-testid="events-previous">
            Previous
          </a>
          <span class="muted">
            {offset + 1}–{Math.min(offset + EVENTS_PAGE, page.total_entries)} of {page.total_entries}
          </span>
          <a class="button" href={offset + EVENTS_PAGE < page.total_entries ? at(offset + EVENTS_PAGE) : undefined} data-testid="events-next">
            Next
          </a>
        </div>
      )}
    </>
  );
}
