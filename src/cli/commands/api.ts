import type { Command } from "commander";
import { createApiServer } from "../../api/server.js";
import { createLogger } from "../../logging.js";
import { maskDatabaseUrl } from "../../store/url.js";
import { openStore } from "../../store/db.js";
import { requireMigrated, resolveConfig, type GlobalFlags, withGlobalFlags } from "../context.js";

interface ApiFlags extends GlobalFlags {
  port?: string;
  host?: string;
}

export function registerApiCommand(program: Command): void {
  withGlobalFlags(
    program
      .command("api")
      .description("run the REST API (/api/v2) and web UI; stateless, so several can run behind a load balancer")
      .option("--port <n>", "port (env ALOFT_PORT, default 8080)")
      .option("--host <address>", "address to listen on (env ALOFT_HOST, default 127.0.0.1; 0.0.0.0 for every interface)"),
  ).action((flags: ApiFlags) => runApi(flags));
}

async function runApi(flags: ApiFlags): Promise<void> {
  const { config } = resolveConfig(flags, { port: flags.port, host: flags.host });
  const logger = createLogger(config.logLevel, "api");
  const store = await openStore(config.databaseUrl);
  await requireMigrated(store);
  const app = await createApiServer({ store, config, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info({ url: address, database: maskDatabaseUrl(config.databaseUrl) }, "Aloft API is running; stop it with Ctrl-C");
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "stopping: requests in progress are finished first");
      void app
        .close()
        .then(() => store.close())
        .finally(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
