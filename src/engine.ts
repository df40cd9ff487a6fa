/**
 * The scheduler, the DAG folder's deploys and the local executor put together in one process: what
 * `aloft standalone` runs. The folder is deployed at start and again when its files change.
 */
import os from "node:os";
import { CallbackRunner } from "./callbacks/callback-runner.js";
import type { AloftConfig } from "./config.js";
import { LocalExecutor } from "./executor/local.js";
import { BrokerExecutor } from "./executor/broker-executor.js";
import type { Executor } from "./executor/executor.js";
import { openBroker } from "./broker/broker.js";
import { WorkerHeartbeat } from "./worker/heartbeat.js";
import { defaultWorkerName, setWorkerState } from "./worker/registry.js";
import type { Logger } from "./logging.js";
import { deployBundle, type DeployReport } from "./bundle/deploy.js";
import { ModuleCache } from "./bundle/module-cache.js";
import { watchDagFolder } from "./bundle/watch.js";
import { DagCache } from "./scheduler/dag-cache.js";
import { dbNow, renewLease, takeLease, type LeaseHandle } from "./scheduler/lease.js";
import { resetOrphanedTries, settleDeadWorkers } from "./scheduler/orphans.js";
import { Scheduler } from "./scheduler/scheduler.js";
import type { Store } from "./store/db.js";
import { SecretBox } from "./runtime/secrets.js";
import { StoreRuntimeService } from "./runtime/service.js";

/** How long the lease of a standalone scheduler lasts without renewal. */
const LEASE_MS = 30_000;

export interface Engine {
  scheduler: Scheduler;
  lease: LeaseHandle;
  /** The deploy of the DAG folder made at start (none when `dags` is "none"). */
  firstDeploy?: DeployReport;
  /** Stops scheduling, waits up to `graceMs` for running tries, then stops the rest. */
  stop(graceMs?: number): Promise<void>;
}

export interface EngineOptions {
  store: Store;
  config: AloftConfig;
  logger: Logger;
  /**
   * The DAG folder (config dags_folder): "watch" deploys it at start and again when its files change
   * (and every parse_interval_ms); "once" at start only; "none" leaves DAGs to `aloft deploy`. Default "watch".
   */
  dags?: "watch" | "once" | "none";
  /**
   * The lease an HA controller holds for this process, which renews it: the engine only fences its
   * writes with it. Without one, the engine takes the lease itself (standalone) and renews it.
   */
  lease?: LeaseHandle;
}

export async function startEngine({ store, config, logger, dags = "watch", lease: givenLease }: EngineOptions): Promise<Engine> {
  const taken = givenLease ?? (await takeLease(store, `${os.hostname()}:${process.pid}`, LEASE_MS));
  const lease: LeaseHandle = {
    ...taken,
    onBlockersEnded: (sessions) => logger.warn({ sessions, epoch: taken.epoch }, "ended the DB sessions whose row locks blocked a scheduling transaction (a deposed leader's or a stuck writer's)"),
  };
  logger.info({ holder: lease.holder, epoch: lease.epoch }, givenLease ? "scheduling under the controller's lease" : "took the scheduler lease");

  const deployOptions = { home: config.home, parseTimeoutMs: config.parseTimeoutMs, pausedAtCreation: config.pausedAtCreation, logger };
  const firstDeploy = dags === "none" ? undefined : await deployBundle(store, config.dagsFolder, deployOptions);
  await resetOrphanedTries(store, lease, new DagCache(store, logger), logger, config.taskLogMaxBytes);

  const modules = new ModuleCache(store, config.home);
  const executor = await startExecutor(store, config, logger, modules);
  const scheduler = new Scheduler({ store, lease, executor: executor.executor, logger, maxMapLength: config.maxMapLength });
  // DAG callbacks (and task callbacks of killed tries) run in processes of their own.
  const callbacks = new CallbackRunner({ store, logger, modules });
  await callbacks.start();
  scheduler.on("runFinished", () => callbacks.wake());
  scheduler.start();

  const stopWatching =
    dags === "watch"
      ? watchDagFolder(store, config.dagsFolder, {
          ...deployOptions,
          pollMs: config.parseIntervalMs,
          onDeployed: (report) => {
            if (report.created) scheduler.wake();
          },
        })
      : async () => {};
  // Workers (remote ones; a local executor lives and dies with this process) that stopped heartbeating.
  // After the DB was unreachable, every heartbeat looks old: judge only once the DB has answered this
  // process for a whole timeout, which gives workers that long to report back.
  const deadWorkerCache = new DagCache(store);
  let dbAnsweringSince: number | null = null;
  const deadWorkerTimer = setInterval(() => {
    const judge = dbAnsweringSince !== null && Date.now() - dbAnsweringSince >= config.workerTimeoutMs;
    (judge ? settleDeadWorkers(store, deadWorkerCache, config.workerTimeoutMs, logger, config.taskLogMaxBytes) : dbNow(store).then(() => []))
      .then((dead) => {
        dbAnsweringSince ??= Date.now();
        if (dead.length > 0) scheduler.wake();
      })
      .catch((error: Error) => {
        dbAnsweringSince = null;
        logger.warn({ err: error.message }, "could not check worker heartbeats; trying again");
      });
  }, Math.max(500, Math.min(config.workerHeartbeatMs, config.workerTimeoutMs / 3)));
  const renewTimer = givenLease
    ? undefined
    : setInterval(() => {
        renewLease(store, lease, LEASE_MS).catch((error: Error) => logger.warn({ err: error.message }, "could not renew the scheduler lease"));
      }, LEASE_MS / 3);

  return {
    scheduler,
    lease,
    firstDeploy,
    async stop(graceMs = 0) {
      clearInterval(renewTimer);
      clearInterval(deadWorkerTimer);
      await stopWatching();
      await scheduler.stop();
      await executor.close(graceMs);
      await callbacks.stop(Math.max(graceMs, 1_000));
    },
  };
}

interface RunningExecutor {
  executor: Executor;
  close(graceMs: number): Promise<void>;
}

/**
 * The executor config names: "local" runs tries in this process's runner pool (registered as a local
 * worker, so `aloft workers list` shows it); a broker URL sends them to `aloft worker` processes.
 */
async function startExecutor(store: Store, config: AloftConfig, logger: Logger, modules: ModuleCache): Promise<RunningExecutor> {
  if (config.executor !== "local") {
    const broker = await openBroker(config.executor, logger);
    const executor = new BrokerExecutor(store, broker, { parallelism: config.parallelism, logger, resendMs: config.brokerResendMs });
    await executor.start();
    logger.info({ broker: broker.url }, "tries go to workers through the broker");
    return { executor, close: () => executor.close() };
  }
  const runtime = new StoreRuntimeService(store, { box: SecretBox.open(config.secretKey, config.home), xcomMaxBytes: config.xcomMaxBytes });
  const name = defaultWorkerName("local");
  const executor = new LocalExecutor(store, {
    parallelism: config.parallelism,
    warmRunners: config.warmRunners,
    logger,
    workerName: name,
    runtime,
    xcomMaxBytes: config.xcomMaxBytes,
    taskLogMaxBytes: config.taskLogMaxBytes,
    taskEnvironment: config.taskEnvironment,
    modules,
  });
  const heartbeat = new WorkerHeartbeat({
    store,
    identity: { name, kind: "local", hostname: os.hostname(), pid: process.pid, queues: ["*"], concurrency: config.parallelism },
    intervalMs: config.workerHeartbeatMs,
    timeoutMs: config.workerTimeoutMs,
    stats: () => executor.stats(),
    logger,
  });
  await heartbeat.start();
  return {
    executor,
    async close(graceMs) {
      await executor.close(graceMs);
      await heartbeat.stop();
      await setWorkerState(store, name, "stopped", "scheduler stopped").catch(() => undefined);
    },
  };
}
