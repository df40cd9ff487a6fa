/**
 * `aloft worker`: takes tries from a broker and runs them with the local executor's runner pool. Each
 * delivery is claimed in the DB before it runs (a repeated delivery loses the claim and does nothing)
 * and acknowledged once the claim is decided. The worker heartbeats in the DB; on shutdown it stops
 * taking work, lets running tries finish within the grace period, then hands the rest back.
 */
import os from "node:os";
import { WorkerBusy, type Broker } from "../broker/broker.js";
import type { AloftConfig } from "../config.js";
import { ModuleCache } from "../bundle/module-cache.js";
import { LocalExecutor } from "../executor/local.js";
import type { TryRequest } from "../executor/protocol.js";
import type { Logger } from "../logging.js";
import { SecretBox } from "../runtime/secrets.js";
import { StoreRuntimeService } from "../runtime/service.js";
import type { Store } from "../store/db.js";
import { WorkerHeartbeat } from "./heartbeat.js";
import { setWorkerState, type WorkerIdentity } from "./registry.js";

export interface WorkerOptions {
  store: Store;
  broker: Broker;
  config: AloftConfig;
  logger: Logger;
  name: string;
  queues: string[];
  concurrency: number;
}

interface Delivery {
  request: TryRequest;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class Worker {
  private readonly executor: LocalExecutor;
  private readonly heartbeat: WorkerHeartbeat;
  private readonly identity: WorkerIdentity;
  /** Deliveries waiting for the next claim batch. */
  private batch: Delivery[] = [];
  private paused = false;
  private stopping = false;

  constructor(private readonly options: WorkerOptions) {
    const { store, config, logger, name, queues, concurrency } = options;
    this.identity = { name, kind: "remote", hostname: os.hostname(), pid: process.pid, queues, concurrency };
    this.executor = new LocalExecutor(store, {
      parallelism: concurrency,
      warmRunners: Math.min(config.warmRunners, concurrency),
      logger,
      workerName: name,
      runtime: new StoreRuntimeService(store, { box: SecretBox.open(config.secretKey, config.home), xcomMaxBytes: config.xcomMaxBytes }),
      xcomMaxBytes: config.xcomMaxBytes,
      taskLogMaxBytes: config.taskLogMaxBytes,
      // The tools of this node: its own [task_environment], for the queues it serves.
      taskEnvironment: config.taskEnvironment,
      // DAG modules come from the DB (and are cached under this node's home): no shared filesystem.
      modules: new ModuleCache(store, config.home),
    });
    this.heartbeat = new WorkerHeartbeat({
      store,
      identity: this.identity,
      intervalMs: config.workerHeartbeatMs,
      timeoutMs: config.workerTimeoutMs,
      stats: () => this.executor.stats(),
      logger,
    });
  }

  async start(): Promise<void> {
    const { broker, logger, queues, concurrency } = this.options;
    await this.heartbeat.start();
    this.executor.onTriesFinished((finished) => {
      // Schedulers move downstream tasks on at once; if this is lost they read it from the DB.
      broker.announceFinished(finished).catch((error: Error) => logger.warn({ err: error.message }, "could not announce finished tries"));
      void this.resumeIfRoom();
    });
    await broker.consume(queues, concurrency, (request) => this.deliver(request));
    logger.info({ worker: this.identity.name, broker: broker.url, queues, concurrency }, "worker started");
  }

  /** A delivery: claimed with the others of the same moment in one transaction; resolves when decided. */
  private deliver(request: TryRequest): Promise<void> {
    if (this.stopping || this.executor.freeSlots() - this.batch.length <= 0) {
      void this.pauseIfFull();
      return Promise.reject(new WorkerBusy(`worker ${this.identity.name} is full`));
    }
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ request, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.claimBatch());
    });
  }

  private async claimBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    try {
      const won = await this.executor.claimAndRun(batch.map((d) => d.request));
      const lost = batch.length - won.length;
      if (lost > 0) this.options.logger.info({ tries: lost }, "deliveries of tries already claimed were dropped (repeated delivery)");
      for (const d of batch) d.resolve();
    } catch (error) {
      for (const d of batch) d.reject(error as Error);
    }
    await this.pauseIfFull();
  }

  private async pauseIfFull(): Promise<void> {
    if (this.paused || this.stopping || this.executor.freeSlots() > 0) return;
    this.paused = true;
    await this.options.broker.pause();
  }

  private async resumeIfRoom(): Promise<void> {
    if (!this.paused || this.stopping || this.executor.freeSlots() <= 0) return;
    this.paused = false;
    await this.options.broker.resume();
  }

  /** Hands every running try back at once (a second SIGTERM). */
  async handBackNow(): Promise<void> {
    await this.executor.handBack(`worker ${this.identity.name} was told to stop at once (second SIGTERM); the try runs again elsewhere`);
  }

  /**
   * Stops taking work, waits up to `graceMs` for running tries, hands the rest back, and leaves the
   * worker row marked stopped.
   */
  async shutdown(graceMs: number): Promise<void> {
    const { broker, store, logger } = this.options;
    this.stopping = true;
    await broker.pause();
    await setWorkerState(store, this.identity.name, "stopping", "shutting down").catch(() => undefined);
    const running = this.executor.stats().running;
    logger.info({ worker: this.identity.name, running, grace_ms: graceMs }, "worker stopping: no new tries; waiting for running ones");
    const reason =
      `worker ${this.identity.name} is shutting down and the try did not finish within the ` +
      `${Math.round(graceMs / 1000)} s grace period (shutdown_grace_ms); it runs again on another worker`;
    await this.executor.close(graceMs, reason);
    await this.heartbeat.stop();
    await setWorkerState(store, this.identity.name, "stopped", "shut down").catch((error: Error) =>
      logger.warn({ err: error.message }, "could not mark the worker stopped"),
    );
    await broker.close();
    logger.info({ worker: this.identity.name }, "worker stopped");
  }
}
