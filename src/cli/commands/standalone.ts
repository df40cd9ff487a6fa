import type { Command } from "commander";
import { startEngine } from "../../engine.js";
import { createLogger } from "../../logging.js";
import { listDagFiles } from "../../processor/parse.js";
import { createApiServer } from "../../api/server.js";
import { ensureFirstAdmin } from "../../api/auth/first-admin.js";
import { openStore } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { maskDatabaseUrl } from "../../store/url.js";
import { resolveConfig, type GlobalFlags, withGlobalFlags } from "../context.js";

interface EngineFlags extends GlobalFlags {
  dags?: string;
  port?: string;
  executor?: string;
}

export function registerStandaloneCommand(program: Command): void {
  withGlobalFlags(
    program
      .command("standalone")
      .description("run everything in one process: migrations, deploying the DAG folder (again on every change), scheduler, local executor, HTTP server")
      .option("--dags <dir>", "DAGs folder, deployed at start and whenever its files change (env ALOFT_DAGS_FOLDER, default: the example DAGs)")
      .option("--port <n>", "HTTP port (env ALOFT_PORT, default 8080)")
      .option("--executor <local|url>", "local, or a broker URL for remote workers (env ALOFT_EXECUTOR, default local)"),
  ).action((flags: EngineFlags) => runStandalone(flags));
}

/** Migrates, starts the engine (deploying and watching the DAG folder) and the HTTP server, and runs until a signal. */
async function runStandalone(flags: EngineFlags): Promise<void> {
  const { config } = resolveConfig(flags, { dagsFolder: flags.dags, port: flags.port, executor: flags.executor });
  const logger = createLogger(config.logLevel, "standalone");
  const dags = "watch";
  listDagFiles(config.dagsFolder); // a missing folder is a usage error before anything is stored
  const store = await openStore(config.databaseUrl);
  const migrated = await migrate(store);
  if (migrated.applied.length > 0) logger.info({ applied: migrated.applied }, "applied migrations");

  const engine = await startEngine({ store, config, logger, dags });
  const firstAdmin = await ensureFirstAdmin(store);
  const http = await createApiServer({ store, config, logger, scheduler: engine.scheduler });
  await http.listen({ port: config.port, host: config.host });
  const first = engine.firstDeploy;
  logger.info(
    {
      database: maskDatabaseUrl(config.databaseUrl),
      executor: maskDatabaseUrl(config.executor),
      ...(first
        ? {
            dags_folder: config.dagsFolder,
            dags: first.added.length + first.changed.length + first.unchanged.length,
            bundle: first.bundle?.id,
            import_errors: first.importErrors.length,
          }
        : {}),
      url: `http://${config.host}:${config.port}`,
    },
    "Aloft standalone is running; stop it with Ctrl-C",
  );
  // Shown once, on the terminal only (never in the log): only its hash is stored.
  if (firstAdmin) {
    process.stdout.write(
      `\nCreated the first user of the API: username '${firstAdmin.username}', password '${firstAdmin.password}'\n` +
        `It is shown only this once; add users with 'aloft users create'.\n\n`,
    );
  }


  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, "stopping at once; tries still running are reset at the next start");
        process.exit(130);
      }
      stopping = true;
      logger.info(
        { signal, grace_ms: config.shutdownGraceMs },
        "stopping: no new tries start; running tries may finish within the grace period (send the signal again to stop at once)",
      );
      void (async () => {
        await http.close();
        await engine.stop(config.shutdownGraceMs);
        await store.close();
        resolve();
      })();
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    engine.scheduler.on("deposed", () => {
      process.exitCode = 1;
      stop("deposed");
    });
  });
}
