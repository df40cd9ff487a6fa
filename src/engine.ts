/**
 * The scheduler, the DAG processor and the local executor put together in one process: what
 * `aloft standalone` runs, and what `aloft dags test` runs on a throwaway database.
 */
import os from "node:os";
import { CallbackRunner } from "./callbacks/callback-runner.js";
import type { AloftConfig } from "./config.js";
import { LocalExecutor } from "./executor/local.js";
import type { Logger } from "./logging.js";
import { processDagFolder, scheduleDagProcessing } from "./processor/processor.js";
import type { SyncReport } from "./processor/sync.js";
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
  firstParse: SyncReport;
  /** Stops scheduling, waits up to `graceMs` for running tries, then stops the rest. */
  stop(graceMs?: number): Promise<void>;
}

export interface EngineOptions {
  store: Store;
  config: AloftConfig;
  logger: Logger;
}

export async function startEngine({ store, config, logger }: EngineOptions): Promise<Engine> {
  const holder = `${os.hostname()}:${process.pid}`;
  const lease = await takeLease(store, holder, LEASE_MS);
  logger.info({ holder, epoch: lease.epoch }, "took the scheduler lease");

  const processorOptions = {
    store,
    dagsFolder: config.dagsFolder,
    home: config.home,
    parseTimeoutMs: config.parseTimeoutMs,
    pausedAtCreation: config.pausedAtCreation,
    logger,
  };
  const firstParse = await processDagFolder(processorOptions);
  await resetOrphanedTries(store, lease, new DagCache(store), logger, config.taskLogMaxBytes);

  const runtime = new StoreRuntimeService(store, { box: SecretBox.open(config.secretKey, config.home), xcomMaxBytes: config.xcomMaxBytes });
  const executor = new LocalExecutor(store, {
    parallelism: config.parallelism,
    warmRunners: config.warmRunners,
    logger,
    runtime,
    xcomMaxBytes: config.xcomMaxBytes,
    taskLogMaxBytes: config.taskLogMaxBytes,
    taskEnvironment: config.taskEnvironment,
  });
  const scheduler = new Scheduler({ store, lease, executor, logger, maxMapLength: config.maxMapLength });
  // DAG callbacks (and task callbacks of killed tries) run in processes of their own.
  const callbacks = new CallbackRunner({ store, logger });
  await callbacks.start();
  scheduler.on("runFinished", () => callbacks.wake());
  scheduler.start();

  const stopParsing = scheduleDagProcessing(processorOptions, config.parseIntervalMs, () => scheduler.wake());
  const renewTimer = setInterval(() => {
    renewLease(store, lease, LEASE_MS).catch((error: Error) => logger.warn({ err: error.message }, "could not renew the scheduler lease"));
  }, LEASE_MS / 3);

  return {
    scheduler,
    lease,
    firstParse,
    async stop(graceMs = 0) {
      clearInterval(renewTimer);
      stopParsing();
      await scheduler.stop();
      await executor.close(graceMs);
      await callbacks.stop(Math.max(graceMs, 1_000));
    },
  };
}
