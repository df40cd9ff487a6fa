/** What the HA endpoints answer (src/ha/status.ts), and how the cluster page shows roles and ages. */

export interface HaNode {
  node_id: string;
  host: string;
  pid: number;
  priority: number;
  no_preempt: boolean;
  /** `lost`: it said "active" but no longer holds the lease (it died). */
  role: string;
  last_seen_ms_ago: number;
  child_pid: number | null;
  child_health: string | null;
  started_at: string;
  version: string;
}

export interface HaEvent {
  at: string;
  node_id: string;
  from: string;
  to: string;
  reason: string;
  epoch: number | null;
}

export interface ClusterStatus {
  cluster: string;
  epoch: number | null;
  leader: { node_id: string; epoch: number; expires_in_ms: number; renewed_ms_ago: number } | null;
  nodes: HaNode[];
  events: HaEvent[];
}

export interface ClusterSummary {
  name: string;
  epoch: number | null;
  leader: string | null;
  node_count: number;
}

const ROLE_COLOURS: Record<string, string> = {
  active: "#4ade80",
  standby: "#cbd5e1",
  stopped: "#e5e7eb",
  refused: "#ef4444",
  lost: "#fb923c",
  healthy: "#4ade80",
  starting: "#d2b48c",
  unhealthy: "#ef4444",
};

export const roleColour = (role: string | null | undefined) => ROLE_COLOURS[role ?? ""] ?? "#e5e7eb";

export function RoleBadge({ role }: { role: string | null | undefined }) {
  return (
    <span class="badge" data-state={role ?? "none"} style={{ background: roleColour(role) }}>
      {role ?? "none"}
    </span>
  );
}

/** 850 ms, 4.2 s, 3 min: for "renewed … ago" and "last seen … ago". */
export function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  if (value < 3_600_000) return `${Math.round(value / 60_000)} min`;
  return `${(value / 3_600_000).toFixed(1)} h`;
}
