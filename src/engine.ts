/**
 * The scheduler, the DAG folder's deploys and the local executor put together in one process: what
 * `aloft standalone` runs. The folder is deployed at start and again when its files change.
 */
import os from "node:os";
import { CallbackRunner } from "./callbacks/callback-runner.js";
import type { AloftConfig } from "./config.js";
import { LocalExecutor } from "./executor/local.js";
import type { Logger } from "./logging.js";
import { deployBundle, type DeployReport } from "./bundle/deploy.js";
import { ModuleCache } from "./bundle/module-cache.js";
import { watchDagFolder } from "./bundle/watch.js";
import { DagCache } from "./scheduler/dag-cache.js";
import { renewLease, takeLease, type LeaseHandle } from "./scheduler/lease.js";
import { resetOrphanedTries } from "./scheduler/orphans.js";
import { Scheduler } from "./scheduler/scheduler.js";
import type { Store } from "./store/db.js";
import { SecretBox } from "./runtime/secrets.js";
import { StoreRuntimeService } from "./runtime/service.js";

/** How long the lease of a standalone scheduler lasts without renewal. */
const LEASE_MS = 30_000;

export interface Engine {
  scheduler: Scheduler;
  lease: LeaseHandle;
  /** The deploy of the DAG folder made at start. */
  firstDeploy: DeployReport;
  /** Stops scheduling, waits up to `graceMs` for running tries, then stops the rest. */
  stop(graceMs?: number): Promise<void>;
}

export interface EngineOptions {
  store: Store;
  config: AloftConfig;
  logger: Logger;
  /** Deploy the DAG folder again when its files change and every parse_interval_ms. Default true. */
  watchDags?: boolean;
}

export async function startEngine({ store, config, logger, watchDags = true }: EngineOptions): Promise<Engine> {
  const holder = `${os.hostname()}:${process.pid}`;
  const lease = await takeLease(store, holder, LEASE_MS);
  logger.info({ holder, epoch: lease.epoch }, "took the scheduler lease");

  const deployOptions = { home: config.home, parseTimeoutMs: config.parseTimeoutMs, pausedAtCreation: config.pausedAtCreation, logger };
  const firstDeploy = await deployBundle(store, config.dagsFolder, deployOptions);
  await resetOrphanedTries(store, lease, new DagCache(store, logger), logger);
  const modules = new ModuleCache(store, config.home);

  const runtime = new StoreRuntimeService(store, { box: SecretBox.open(config.secretKey, config.home), xcomMaxBytes: config.xcomMaxBytes });
  const executor = new LocalExecutor(store, {
    parallelism: config.parallelism,
    warmRunners: config.warmRunners,
    logger,
    runtime,
    xcomMaxBytes: config.xcomMaxBytes,
    modules,
  });
  const scheduler = new Scheduler({ store, lease, executor, logger, maxMapLength: config.maxMapLength });
  // DAG callbacks (and task callbacks of killed tries) run in processes of their own.
  const callbacks = new CallbackRunner({ store, logger, modules });
  await callbacks.start();
  scheduler.on("runFinished", () => callbacks.wake());
  scheduler.start();

  const stopWatching = watchDags
    ? watchDagFolder(store, config.dagsFolder, {
        ...deployOptions,
        pollMs: config.parseIntervalMs,
        onDeployed: (report) => {
          if (report.created) scheduler.wake();
        },
      })
    : async () => {};
  const renewTimer = setInterval(() => {
    renewLease(store, lease, LEASE_MS).catch((error: Error) => logger.warn({ err: error.message }, "could not renew the scheduler lease"));
  }, LEASE_MS / 3);

  return {
    scheduler,
    lease,
    firstDeploy,
    async stop(graceMs = 0) {
      clearInterval(renewTimer);
      await stopWatching();
      await scheduler.stop();
      await executor.close(graceMs);
      await callbacks.stop(Math.max(graceMs, 1_000));
    },
  };
}
