/**
 * The HTTP server of standalone. For now it answers health and version in the shape of Airflow's
 * `/api/v2`; the REST API and the UI come with the web issue.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { dbNow, SCHEDULER_LEASE } from "../scheduler/lease.js";
import type { Store } from "../store/db.js";
import { VERSION } from "../version.js";

/** A scheduler whose lease was not renewed for this long is reported unhealthy (Airflow's threshold is 30 s). */
const SCHEDULER_HEALTH_THRESHOLD_MS = 30_000;

export function createHttpServer(store: Store): FastifyInstance {
  const app = Fastify({ logger: false });

  app.get("/api/v2/monitor/health", async () => {
    let dbHealthy = true;
    let heartbeat: number | null = null;
    let now = 0;
    try {
      // The DB's clock on both sides: the lease is renewed in DB time.
      now = await dbNow(store);
      const lease = await store.db
        .selectFrom("scheduler_lease")
        .select(["renewed_at"])
        .where("name", "=", SCHEDULER_LEASE)
        .executeTakeFirst();
      heartbeat = lease?.renewed_at ?? null;
    } catch {
      dbHealthy = false;
    }
    const schedulerHealthy = heartbeat !== null && now - heartbeat < SCHEDULER_HEALTH_THRESHOLD_MS;
    return {
      metadatabase: { status: dbHealthy ? "healthy" : "unhealthy" },
      scheduler: {
        status: schedulerHealthy ? "healthy" : "unhealthy",
        latest_scheduler_heartbeat: heartbeat === null ? null : new Date(heartbeat).toISOString(),
      },
    };
  });

  app.get("/api/v2/version", async () => ({ version: VERSION, git_version: null }));
  return app;
}
