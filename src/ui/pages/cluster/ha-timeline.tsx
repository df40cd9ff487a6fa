/**
 * The failover timeline: one lane per node on a shared time axis. Each lane is coloured by the
 * role the node had (active green, standby grey, lost orange...), with a marker at each transition;
 * a marker that made a node active carries the epoch it took. Hover a marker for the time and reason.
 */
import { when } from "../../format.js";
import { roleColour, type HaEvent, type HaNode } from "./ha-shared.js";

const WIDTH = 1000;
const LABEL = 130;
const LANE = 34;
const AXIS = 26;
const RIGHT = 16;

interface Span {
  role: string;
  from: number;
  to: number;
}

/**
 * A node's roles over time, from the cluster's transitions (oldest first). A node that dies cannot
 * record it: its lead ends when another node takes over (or when it was last seen, if it is lost
 * now), and it counts as lost until its next transition.
 */
function spansOf(all: HaEvent[], nodeId: string, node: HaNode | undefined, now: number): Span[] {
  const mine = all.filter((e) => e.node_id === nodeId);
  const takeovers = all.filter((e) => e.node_id !== nodeId && e.to === "active").map((e) => Date.parse(e.at));
  const spans: Span[] = [];
  mine.forEach((e, i) => {
    const from = Date.parse(e.at);
    const next = i + 1 < mine.length ? Date.parse(mine[i + 1]!.at) : now;
    let end = next;
    if (e.to === "active") {
      const taken = takeovers.find((t) => t > from);
      if (taken !== undefined) end = Math.min(end, taken);
      if (i + 1 === mine.length && node?.role === "lost") end = Math.min(end, Math.max(from, now - node.last_seen_ms_ago));
    }
    spans.push({ role: e.to, from, to: end });
    if (end < next) spans.push({ role: "lost", from: end, to: next });
  });
  return spans;
}

/** About six round steps across the range: 1 s … 1 day. */
function tickStep(rangeMs: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400].map((s) => s * 1000);
  return steps.find((s) => rangeMs / s <= 7) ?? 86400_000 * Math.ceil(rangeMs / 86400_000 / 7);
}

function tickLabel(t: number, rangeMs: number): string {
  const date = new Date(t);
  if (rangeMs > 86400_000) return date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return date.toLocaleTimeString(undefined, rangeMs > 600_000 ? { hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** `events`: newest first, as the API gives them. `nodes`: the cluster's nodes now (their lanes come first, by priority). */
export function HaTimeline({ events, nodes }: { events: HaEvent[]; nodes: HaNode[] }) {
  if (events.length === 0) return <p class="muted">No transitions yet: a node's joins, takeovers and handovers appear here.</p>;
  const oldestFirst = [...events].reverse();
  const start = Date.parse(oldestFirst[0]!.at);
  // The page's clock, but never before the newest event (the DB's clock may run a little ahead).
  const now = Math.max(Date.now(), Date.parse(oldestFirst[oldestFirst.length - 1]!.at));
  const range = Math.max(now - start, 1000);
  const lanes = [...new Set([...nodes.map((n) => n.node_id), ...oldestFirst.map((e) => e.node_id)])];
  const height = AXIS + lanes.length * LANE + 8;
  const x = (t: number) => LABEL + ((t - start) / range) * (WIDTH - LABEL - RIGHT);
  const step = tickStep(range);
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= now; t += step) ticks.push(t);

  return (
    <div class="ha-timeline">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label="HA transitions over time, one lane per node">
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={AXIS - 6} y2={height - 4} class="tick" />
            <text x={x(t)} y={AXIS - 10} text-anchor="middle" class="tick-label">
              {tickLabel(t, range)}
            </text>
          </g>
        ))}
        {lanes.map((nodeId, lane) => {
          const y = AXIS + lane * LANE;
          const mine = oldestFirst.filter((e) => e.node_id === nodeId);
          const spans = spansOf(oldestFirst, nodeId, nodes.find((n) => n.node_id === nodeId), now);
          return (
            <g key={nodeId} data-node={nodeId}>
              <text x={8} y={y + LANE / 2 + 4} class="lane-label">
                {nodeId.length > 18 ? `${nodeId.slice(0, 17)}…` : nodeId}
                <title>{nodeId}</title>
              </text>
              <line x1={LABEL} x2={WIDTH - RIGHT} y1={y + LANE / 2} y2={y + LANE / 2} class="lane-rail" />
              {spans.map((s) => {
                const tall = s.role === "active" ? 16 : 8;
                return (
                  <rect key={`${s.from}-${s.role}`} x={x(s.from)} y={y + (LANE - tall) / 2} width={Math.max(x(s.to) - x(s.from), 1)} height={tall} rx={3} fill={roleColour(s.role)}>
                    <title>{`${nodeId}: ${s.role} from ${when(new Date(s.from).toISOString())}`}</title>
                  </rect>
                );
              })}
              {mine.map((e, i) => (
                <g key={`${e.at}-${i}`} class="marker">
                  <circle cx={x(Date.parse(e.at))} cy={y + LANE / 2} r={e.to === "active" ? 6 : 4.5} fill={roleColour(e.to)} />
                  {e.to === "active" && e.epoch !== null && (
                    <text x={x(Date.parse(e.at))} y={y + 7} text-anchor="middle" class="epoch-label">
                      e{e.epoch}
                    </text>
                  )}
                  <title>{`${when(e.at)} · ${e.node_id}: ${e.from} → ${e.to}${e.epoch !== null ? ` (epoch ${e.epoch})` : ""}\n${e.reason}`}</title>
                </g>
              ))}
            </g>
          );
        })}
      </svg>
      <div class="legend">
        {["active", "standby", "stopped", "lost", "refused"].map((role) => (
          <span key={role}>
            <span class="dot" style={{ background: roleColour(role) }} /> {role}
          </span>
        ))}
        <span class="muted">· e3: the node took the lead with epoch 3 · hover a marker for its reason</span>
      </div>
    </div>
  );
}
