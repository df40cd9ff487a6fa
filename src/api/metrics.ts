/**
 * `/metrics` in Prometheus' text format. What the cluster is doing is read from the metadata DB at
 * each scrape, so every API instance reports the same figures: DAG runs by state, task instances in
 * the states that are not final (final ones only grow, and counting them would scan the whole
 * table), queued tries per queue, the scheduler's leader epoch, failovers and lease age. Request
 * latency is this instance's own, per route; so is the scheduling loop's pass time, when the
 * scheduler runs in this process (standalone).
 */
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { SCHEDULER_LEASE, dbNow } from "../scheduler/lease.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { Store } from "../store/db.js";
import { TERMINAL_TASK_STATES, type TaskState } from "../store/schema.js";

const OPEN_TASK_STATES: TaskState[] = ["scheduled", "queued", "running", "up_for_retry", "up_for_reschedule", "restarting"];

/**
 * The scheduling loop's pass times: one metric wherever the loop runs (standalone's API, and the
 * health server of the active `aloft scheduler` node), so that one dashboard reads both.
 */
export function schedulerLoopHistogram(registry: Registry, help: string): Histogram {
  return new Histogram({
    name: "aloft_scheduler_loop_seconds",
    help,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
}

export function registerMetrics(app: FastifyInstance, store: Store, scheduler?: Scheduler): void {
  const registry = new Registry();
  if (scheduler) {
    const passes = schedulerLoopHistogram(registry, "time of one pass of the scheduling loop in this process");
    scheduler.on("passed", (ms) => passes.observe(ms / 1000));
  }
  const latency = new Histogram({
    name: "aloft_api_request_seconds",
    help: "API request latency by method, route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const runs = new Gauge({ name: "aloft_dag_runs", help: "DAG runs by state", labelNames: ["state"], registers: [registry] });
  const tasks = new Gauge({ name: "aloft_task_instances", help: `task instances by state (states that are not final: ${OPEN_TASK_STATES.join(", ")})`, labelNames: ["state"], registers: [registry] });
  const queued = new Gauge({ name: "aloft_queue_depth", help: "tries queued and not yet claimed, by queue", labelNames: ["queue"], registers: [registry] });
  const epoch = new Gauge({ name: "aloft_scheduler_epoch", help: "epoch of the scheduler lease (grows with each new leader)", registers: [registry] });
  const leaseAge = new Gauge({ name: "aloft_scheduler_lease_age_seconds", help: "time since the scheduler lease was last renewed, by the DB's clock", registers: [registry] });
  const failovers = new Gauge({ name: "aloft_scheduler_leaderships_total", help: "times a scheduler node became the leader (a failover or handover after the first)", registers: [registry] });
  const scrapeErrors = new Counter({ name: "aloft_metrics_db_errors_total", help: "scrapes whose DB reads failed", registers: [registry] });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || route === "/metrics") return;
    latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  /** Reads the cluster's figures into the gauges. */
  async function collect(): Promise<void> {
    const [runRows, taskRows, queueRows, lease, became, now] = await Promise.all([
      store.db.selectFrom("dag_run").select(["state", (eb) => eb.fn.countAll<number>().as("n")]).groupBy("state").execute(),
      store.db.selectFrom("task_instance").select(["state", (eb) => eb.fn.countAll<number>().as("n")]).where("state", "in", OPEN_TASK_STATES).groupBy("state").execute(),
      store.db.selectFrom("task_instance").select(["queue", (eb) => eb.fn.countAll<number>().as("n")]).where("state", "=", "queued").groupBy("queue").execute(),
      store.db.selectFrom("scheduler_lease").select(["epoch", "renewed_at"]).where("name", "=", SCHEDULER_LEASE).executeTakeFirst(),
      store.db.selectFrom("ha_event").select((eb) => eb.fn.countAll<number>().as("n")).where("cluster", "=", SCHEDULER_LEASE).where("to_role", "=", "active").executeTakeFirstOrThrow(),
      dbNow(store),
    ]);
    runs.reset();
    for (const state of ["queued", "running", "success", "failed"]) runs.set({ state }, 0);
    for (const r of runRows) runs.set({ state: r.state }, Number(r.n));
    tasks.reset();
    for (const state of OPEN_TASK_STATES) tasks.set({ state }, 0);
    for (const r of taskRows) if (r.state !== null && !TERMINAL_TASK_STATES.includes(r.state)) tasks.set({ state: r.state }, Number(r.n));
    queued.reset();
    for (const r of queueRows) queued.set({ queue: r.queue }, Number(r.n));
    epoch.set(lease ? Number(lease.epoch) : 0);
    leaseAge.set(lease ? Math.max(0, now - Number(lease.renewed_at)) / 1000 : NaN);
    failovers.set(Number(became.n));
  }

  app.get("/metrics", { config: { access: "public" } }, async (_request, reply) => {
    try {
      await collect();
    } catch {
      // The figures from the DB are missing from this scrape; the error count says so.
      scrapeErrors.inc();
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
