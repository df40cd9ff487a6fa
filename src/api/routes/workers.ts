/**
 * Aloft's addition `/api/v2/workers`: what `aloft workers list --json` shows (the workers with their
 * heartbeats and counters, and the tries waiting in each queue). No Airflow counterpart.
 */
import type { FastifyInstance } from "fastify";
import type { Store } from "../../store/db.js";
import { workerOverview } from "../../worker/overview.js";

/** `executor`: the configured executor (`local`, or the broker URL whose queues are counted). */
export function registerWorkerRoutes(app: FastifyInstance, store: Store, executor: string): void {
  app.get("/api/v2/workers", { config: { access: "viewer" } }, async () => workerOverview(store, executor));
}
