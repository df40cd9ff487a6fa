/**
 * The health server of a scheduler node (`aloft scheduler --port`): health and version only, in the
 * shape of Airflow's `/api/v2`, for load balancers and monitoring. The API itself is `aloft api`.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { registerMonitorRoutes } from "../api/routes/monitor.js";
import type { Store } from "../store/db.js";

export function createHttpServer(store: Store): FastifyInstance {
  const app = Fastify({ logger: false });
  registerMonitorRoutes(app, store);
  return app;
}
