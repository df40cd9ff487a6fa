/**
 * The health server of a scheduler node (`aloft scheduler --port`): health and version in the shape
 * of Airflow's `/api/v2`, for load balancers and monitoring, and the node's own `/metrics` (its role,
 * epoch and scheduling pass times). The API itself is `aloft api`.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { registerMonitorRoutes } from "../api/routes/monitor.js";
import type { Store } from "../store/db.js";

export function createHttpServer(store: Store, metrics?: Registry): FastifyInstance {
  const app = Fastify({ logger: false });
  registerMonitorRoutes(app, store);
  if (metrics) app.get("/metrics", async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  return app;
}
