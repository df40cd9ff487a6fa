/** The controllers of each HA cluster (one row a node, kept fresh by its own writes) and their transitions. */
import { sql } from "../store/kysely.js";
import type { Store } from "../store/db.js";
import type { ChildHealth, HaRole } from "../store/schema.js";
import { VERSION } from "../version.js";

export interface NodeIdentity {
  cluster: string;
  nodeId: string;
  host: string;
  pid: number;
  priority: number;
  noPreempt: boolean;
}

export interface NodeState {
  role: HaRole;
  childPid: number | null;
  childHealth: ChildHealth | null;
}

/** Records the node's state and that it is alive now (DB time). */
export async function saveNode(store: Store, node: NodeIdentity, state: NodeState, joining = false): Promise<void> {
  const fields = {
    host: node.host,
    pid: node.pid,
    priority: node.priority,
    no_preempt: node.noPreempt ? 1 : 0,
    role: state.role,
    child_pid: state.childPid,
    child_health: state.childHealth,
    last_seen: store.nowMs(),
    version: VERSION,
    ...(joining ? { started_at: store.nowMs() } : {}),
  };
  const updated = await store.db.updateTable("ha_node").set(fields).where("cluster", "=", node.cluster).where("node_id", "=", node.nodeId).executeTakeFirst();
  if (Number(updated.numUpdatedRows) > 0) return;
  await store.db
    .insertInto("ha_node")
    .values({ cluster: node.cluster, node_id: node.nodeId, ...fields, started_at: store.nowMs() })
    .execute();
}

export interface TransitionEvent {
  cluster: string;
  nodeId: string;
  from: string;
  to: string;
  reason: string;
  epoch: number | null;
}

/** `agoMs`: how long ago it happened (an event noted while the DB was unreachable), subtracted from the DB's clock. */
export async function recordEvent(store: Store, event: TransitionEvent, agoMs = 0): Promise<void> {
  await store.db
    .insertInto("ha_event")
    .values({ cluster: event.cluster, at: sql<number>`${store.nowMs()} - ${Math.max(0, Math.round(agoMs))}`, node_id: event.nodeId, from_role: event.from, to_role: event.to, reason: event.reason, epoch: event.epoch })
    .execute();
}

/** A node of the cluster seen within `freshMs` (DB time), with its priority; undefined when none. */
export async function freshNode(store: Store, cluster: string, nodeId: string, freshMs: number) {
  return store.db
    .selectFrom("ha_node")
    .select(["node_id", "priority", "role"])
    .where("cluster", "=", cluster)
    .where("node_id", "=", nodeId)
    .where("last_seen", ">=", sql<number>`${store.nowMs()} - ${freshMs}`)
    .executeTakeFirst();
}

/** Whether a standby of higher priority than `priority` was seen within `freshMs`: it should take over first. */
export async function higherPriorityStandby(store: Store, cluster: string, nodeId: string, priority: number, freshMs: number): Promise<boolean> {
  const row = await store.db
    .selectFrom("ha_node")
    .select("node_id")
    .where("cluster", "=", cluster)
    .where("node_id", "!=", nodeId)
    .where("role", "=", "standby")
    .where("priority", ">", priority)
    .where("last_seen", ">=", sql<number>`${store.nowMs()} - ${freshMs}`)
    .executeTakeFirst();
  return row !== undefined;
}

export async function listNodes(store: Store, cluster: string) {
  return store.db
    .selectFrom("ha_node")
    .selectAll()
    .select(store.nowMs().as("now"))
    .where("cluster", "=", cluster)
    .orderBy("priority", "desc")
    .orderBy("node_id")
    .execute();
}

export async function listEvents(store: Store, cluster: string, limit: number) {
  return store.db.selectFrom("ha_event").selectAll().where("cluster", "=", cluster).orderBy("id", "desc").limit(limit).execute();
}
