/**
 * `/metrics` of a scheduler node's health server (`aloft scheduler --port`), in Prometheus' text
 * format: the node's role and the epoch it leads under, and the times of the scheduling passes its
 * child reports while the node is active. The cluster's figures (runs, queues, lease age,
 * leaderships) are the API's `/metrics`.
 */
import { Gauge, Registry } from "prom-client";
import { schedulerLoopHistogram } from "../api/metrics.js";
import type { HaRole } from "../store/schema.js";

const ROLES: readonly HaRole[] = ["standby", "active", "stopped", "refused"];

export interface NodeState {
  role: HaRole;
  epoch: number | null;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly passes = schedulerLoopHistogram(this.registry, "time of one pass of this node's scheduling loop (its child, while the node is active)");
  /** Until a controller is followed, the node is a standby. */
  private state: () => NodeState = () => ({ role: "standby", epoch: null });

  constructor(nodeId: string) {
    const current = () => this.state();
    new Gauge({
      name: "aloft_ha_role",
      help: "1 for this node's role in its HA cluster (standby, active...), 0 for the others",
      labelNames: ["node_id", "role"],
      registers: [this.registry],
      collect() {
        const { role } = current();
        for (const r of ROLES) this.set({ node_id: nodeId, role: r }, r === role ? 1 : 0);
      },
    });
    new Gauge({
      name: "aloft_ha_epoch",
      help: "epoch of the lease this node leads under; 0 while it does not lead",
      labelNames: ["node_id"],
      registers: [this.registry],
      collect() {
        this.set({ node_id: nodeId }, current().epoch ?? 0);
      },
    });
  }

  /** Reads the role and epoch from `state` at each scrape. */
  follow(state: () => NodeState): void {
    this.state = state;
  }

  /** Records pass times (ms) the scheduling child reported. */
  readonly observePasses = (durationsMs: number[]): void => {
    for (const ms of durationsMs) this.passes.observe(ms / 1000);
  };
}
