/**
 * What `aloft ha status` and `GET /api/v2/ha/clusters/{name}` show of a cluster: its leader and
 * epoch, its nodes and their recent transitions, timed by the database's clock. Never the cluster's
 * verifier or salt, nor the lease's proof.
 */
import type { Selectable } from "kysely";
import type { Store } from "../store/db.js";
import type { HaEventTable } from "../store/schema.js";
import { readLease } from "./election.js";
import { listEvents, listNodes } from "./registry.js";

/** The transitions a status shows, newest first. */
export const STATUS_EVENTS = 50;

const iso = (ms: number) => new Date(ms).toISOString();

export async function clusterStatus(store: Store, cluster: string) {
  const { lease, now } = await readLease(store, cluster);
  const nodes = await listNodes(store, cluster);
  const events = await listEvents(store, cluster, STATUS_EVENTS);
  const leaseLive = lease !== null && lease.expiresAt > now;
  return {
    cluster,
    epoch: lease?.epoch ?? null,
    leader: leaseLive ? { node_id: lease.holder, epoch: lease.epoch, expires_in_ms: lease.expiresAt - now, renewed_ms_ago: now - lease.renewedAt } : null,
    nodes: nodes.map((n) => ({
      node_id: n.node_id,
      host: n.host,
      pid: n.pid,
      priority: n.priority,
      no_preempt: n.no_preempt === 1,
      // A node that died cannot update its own row: past the lease, "active" is only what it last said.
      role: n.role === "active" && !(leaseLive && lease.holder === n.node_id) ? "lost" : n.role,
      last_seen_ms_ago: Number(n.now) - Number(n.last_seen),
      child_pid: n.child_pid,
      child_health: n.child_health,
      started_at: iso(Number(n.started_at)),
      version: n.version,
    })),
    events: events.map(eventView),
  };
}

export type ClusterStatus = Awaited<ReturnType<typeof clusterStatus>>;

export function eventView(e: Selectable<HaEventTable>) {
  return { at: iso(Number(e.at)), node_id: e.node_id, from: e.from_role, to: e.to_role, reason: e.reason, epoch: e.epoch === null ? null : Number(e.epoch) };
}

/**
 * Every cluster there is: each one a node joined or whose lease was taken, with its epoch, its live
 * leader (null when the lease expired) and how many nodes joined it, by name.
 */
export async function listClusters(store: Store) {
  const leases = await store.db.selectFrom("scheduler_lease").select(["name", "holder", "epoch", "expires_at"]).select(store.nowMs().as("now")).execute();
  const nodes = await store.db
    .selectFrom("ha_node")
    .select((eb) => ["cluster", eb.fn.countAll<number>().as("n")])
    .groupBy("cluster")
    .execute();
  const names = [...new Set([...leases.map((l) => l.name), ...nodes.map((n) => n.cluster)])].sort();
  return names.map((name) => {
    const lease = leases.find((l) => l.name === name);
    const live = lease !== undefined && Number(lease.expires_at) > Number(lease.now);
    return {
      name,
      epoch: lease ? Number(lease.epoch) : null,
      leader: live ? lease.holder : null,
      node_count: Number(nodes.find((n) => n.cluster === name)?.n ?? 0),
    };
  });
}

/** Whether a node ever joined the cluster or took its lease (a standalone scheduler takes `scheduler`'s lease without joining). */
export async function clusterExists(store: Store, cluster: string): Promise<boolean> {
  const lease = await store.db.selectFrom("scheduler_lease").select("name").where("name", "=", cluster).executeTakeFirst();
  if (lease) return true;
  const node = await store.db.selectFrom("ha_node").select("node_id").where("cluster", "=", cluster).limit(1).executeTakeFirst();
  return node !== undefined;
}
