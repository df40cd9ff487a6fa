/**
 * The API server (`aloft api`, and inside `aloft standalone`): `/api/v2` in the shapes of Airflow's
 * public API, Aloft's additions, and logging in. Stateless: everything it knows is in the metadata
 * DB, and its tokens are signed with `secret_key`, so several instances can run behind a load balancer.
 */
import cookie from "@fastify/cookie";
import Fastify, { type FastifyInstance } from "fastify";
import type { AloftConfig } from "../config.js";
import type { Logger } from "../logging.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import { SecretBox, secretKeyMaterial } from "../runtime/secrets.js";
import type { Store } from "../store/db.js";
import { installAuth } from "./auth/plugin.js";
import { TokenSigner } from "./auth/tokens.js";
import { registerMetrics } from "./metrics.js";
import { documentRoutes } from "./openapi/document.js";
import { ApiProblem, problemHandler } from "./problems.js";
import { registerAuthRoutes } from "./routes/auth.js";
import { registerBackfillRoutes } from "./routes/backfills.js";
import { registerBundleRoutes } from "./routes/bundles.js";
import { registerConnectionRoutes } from "./routes/connections.js";
import { registerDagRunRoutes } from "./routes/dag-runs.js";
import { registerDagSourceRoutes } from "./routes/dag-sources.js";
import { registerDagVersionRoutes } from "./routes/dag-versions.js";
import { registerDagRoutes } from "./routes/dags.js";
import { registerEventLogRoutes } from "./routes/event-logs.js";
import { registerHaRoutes } from "./routes/ha.js";
import { registerImportErrorRoutes } from "./routes/import-errors.js";
import { registerMonitorRoutes } from "./routes/monitor.js";
import { registerPoolRoutes } from "./routes/pools.js";
import { registerTaskRoutes } from "./routes/tasks.js";
import { registerUserRoutes } from "./routes/users.js";
import { registerTaskInstanceRoutes } from "./routes/task-instances.js";
import { registerWorkerRoutes } from "./routes/workers.js";
import { registerVariableRoutes } from "./routes/variables.js";
import { registerXcomRoutes } from "./routes/xcoms.js";
import { registerUiAssets } from "./ui-assets.js";
import { registerUiDagListRoutes } from "./routes/ui-dag-list.js";
import { registerUiDagViewRoutes } from "./routes/ui-dag-views.js";

/** Request bodies larger than this are refused (413): the API's bodies are small JSON documents. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface ApiServerOptions {
  store: Store;
  /** `executor`: for the broker's queue depths in GET /api/v2/workers. */
  config: Pick<AloftConfig, "secretKey" | "home" | "apiTokenTtlMs" | "executor">;
  logger: Logger;
  /** The scheduler, when it runs in this process (standalone): its pass times go to /metrics. */
  scheduler?: Scheduler;
}

export async function createApiServer({ store, config, logger, scheduler }: ApiServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Unknown fields are an error (422), not silently dropped; query strings are coerced to the schema's types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false } },
  });
  const signer = new TokenSigner(secretKeyMaterial(config.secretKey, config.home));
  // Variables and connections are encrypted with the same box as the CLI and the engine use (the same secret_key).
  const box = SecretBox.open(config.secretKey, config.home);
  app.setErrorHandler(problemHandler(logger));
  app.setNotFoundHandler((request) => {
    throw new ApiProblem(404, "Not Found", `no such endpoint: ${request.method} ${request.url.split("?")[0]}`);
  });
  await app.register(cookie);
  installAuth(app, store, signer);
  // Before documentRoutes: the UI's files are not part of the API's document.
  registerUiAssets(app);
  const openApi = documentRoutes(app);
  app.get("/openapi.json", { config: { access: "public" } }, async () => openApi());
  app.addHook("onResponse", async (request, reply) => {
    logger.info(
      { method: request.method, path: request.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime), user: request.user?.username },
      "API request",
    );
  });

  registerMetrics(app, store, scheduler);
  registerAuthRoutes(app, store, signer, config.apiTokenTtlMs);
  registerMonitorRoutes(app, store);
  registerDagRoutes(app, store);
  registerDagRunRoutes(app, store);
  registerTaskInstanceRoutes(app, store);
  registerEventLogRoutes(app, store);
  registerDagVersionRoutes(app, store);
  registerDagSourceRoutes(app, store);
  registerTaskRoutes(app, store);
  registerBackfillRoutes(app, store);
  registerXcomRoutes(app, store);
  registerImportErrorRoutes(app, store);
  registerPoolRoutes(app, store);
  registerVariableRoutes(app, store, box);
  registerConnectionRoutes(app, store, box);
  // Aloft's additions.
  registerUserRoutes(app, store);
  registerHaRoutes(app, store);
  registerWorkerRoutes(app, store, config.executor);
  registerBundleRoutes(app, store);
  // The web UI's own reads (under /ui/api).
  registerUiDagListRoutes(app, store);
  registerUiDagViewRoutes(app, store);
  return app;
}
