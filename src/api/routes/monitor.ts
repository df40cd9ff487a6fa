/** Health and version, in the shape of Airflow's `/api/v2/monitor/health` and `/api/v2/version`. */
import type { FastifyInstance } from "fastify";
import { dbNow, SCHEDULER_LEASE } from "../../scheduler/lease.js";
import type { Store } from "../../store/db.js";
import { VERSION } from "../../version.js";

/** A scheduler whose lease was not renewed for this long is reported unhealthy (Airflow's threshold is 30 s). */
const SCHEDULER_HEALTH_THRESHOLD_MS = 30_000;

export function registerMonitorRoutes(app: FastifyInstance, store: Store): void {
  app.get("/api/v2/monitor/health", { config: { access: "public" } }, async () => {
    let dbHealthy = true;
    let lease: { holder: string; epoch: number; renewed_at: number } | undefined;
    let now = 0;
    try {
      // The DB's clock on both sides: the lease is renewed in DB time.
      now = await dbNow(store);
      lease = await store.db.selectFrom("scheduler_lease").select(["holder", "epoch", "renewed_at"]).where("name", "=", SCHEDULER_LEASE).executeTakeFirst();
    } catch {
      dbHealthy = false;
    }
    const heartbeat = lease ? Number(lease.renewed_at) : null;
    const schedulerHealthy = heartbeat !== null && now - heartbeat < SCHEDULER_HEALTH_THRESHOLD_MS;
    return {
      metadatabase: { status: dbHealthy ? "healthy" : "unhealthy" },
      scheduler: {
        status: schedulerHealthy ? "healthy" : "unhealthy",
        latest_scheduler_heartbeat: heartbeat === null ? null : new Date(heartbeat).toISOString(),
        // Aloft's additions: who leads, under which epoch.
        leader: lease?.holder ?? null,
        epoch: lease ? Number(lease.epoch) : null,
      },
      triggerer: { status: null, latest_triggerer_heartbeat: null },
      dag_processor: null,
    };
  });

  app.get("/api/v2/version", { config: { access: "public" } }, async () => ({ version: VERSION, git_version: null }));
}
