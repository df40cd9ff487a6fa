/**
 * The local executor: claims queued tries in the DB, runs them on the warm runner pool, and records
 * their outcomes in batches. It tells its owner (the scheduler, or a remote worker) which tries ended,
 * so that the downstream tasks are looked at right away instead of at the next tick. A remote worker
 * (worker/worker.ts) is this executor fed by a broker.
 */
import os from "node:os";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { retryUntilDone } from "../util/retry.js";
import type { Executor, FinishedTi } from "./executor.js";
import type { TryOutcome, TryRequest } from "./protocol.js";
import { RunnerPool } from "./runner-pool.js";
import type { RuntimeService } from "../runtime/service.js";
import { appendTryLogs, LOG_FLUSH_MS, logCap, logLine, type LogChunk } from "./try-logs.js";
import { settleStoppedTries, stopReason } from "./stopped-tries.js";
import { claimTries, finishTries, handBackTries, type FinishedTry } from "./tries.js";
import type { WorkerStats } from "../worker/registry.js";
import { chunks } from "../util/chunks.js";
import { withNodeEnvironment, type NodeTaskEnvironment } from "./task-environment.js";
import type { ModuleCache } from "../bundle/module-cache.js";

export interface LocalExecutorOptions {
  parallelism: number;
  warmRunners: number;
  logger: Logger;
  /** The worker row its claims are recorded under (see worker/registry.ts). */
  workerName: string;
  hostname?: string;
  /**
   * How often the executor checks whether its running tries were changed in the DB by someone else
   * (cleared, marked by hand) and stops those. Default 1000 ms.
   */
  watchIntervalMs?: number;
  /** Answers running tries' calls for XCom, Variables and Connections. Default: none (those calls fail). */
  runtime?: RuntimeService;
  /** Largest XCom value in JSON bytes (config xcom_max_bytes). Default: no limit. */
  xcomMaxBytes?: number;
  /** Size cap of each try's log, head and tail kept (config task_log_max_bytes; 0: no cap). Default 4 MiB. */
  taskLogMaxBytes?: number;
  /** Env vars, PATH additions and preambles for the tries this node runs (config [task_environment]). Default: none. */
  taskEnvironment?: NodeTaskEnvironment;
  /** Gives each try's DAG module as a local file, fetched from the DB when this node does not have it. */
  modules: ModuleCache;
}

export class LocalExecutor implements Executor {
  private readonly pool: RunnerPool;
  private readonly hostname: string;
  /** Tries claimed or running; a try's slot is free once its runner is done, while its outcome is written. */
  private inFlight = 0;
  private finished: FinishedTry[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private listeners: Array<(finished: FinishedTi[]) => void> = [];
  /** Log text received from runners, not yet written. */
  private logs: LogChunk[] = [];
  private readonly logTimer: NodeJS.Timeout;
  /** Tries claimed by this executor whose outcome has not come back yet, by task instance id. */
  private readonly running = new Map<number, TryRequest>();
  /** Task instances whose try this executor has asked the pool to stop. */
  private readonly stopping = new Set<number>();
  private readonly watchTimer: NodeJS.Timeout;
  private watching = false;
  /** Tries whose outcome was recorded, and how many of those failed (failed or up_for_retry). */
  private triesDone = 0;
  private triesFailed = 0;
  /** Claims being decided and tries whose outcome is not recorded yet: close() waits for them. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly options: LocalExecutorOptions,
  ) {
    this.hostname = options.hostname ?? os.hostname();
    this.pool = new RunnerPool({
      maxRunners: options.parallelism,
      warm: options.warmRunners,
      logger: options.logger,
      onLog: (request, text) => this.logs.push({ request, text, at: Date.now() }),
      runtime: options.runtime,
    });
    this.logTimer = setInterval(() => {
      this.flushing = this.flushing.then(() => this.flushLogs());
    }, LOG_FLUSH_MS);
    this.watchTimer = setInterval(() => void this.stopChangedTries(), options.watchIntervalMs ?? 1_000);
  }

  freeSlots(): number {
    return Math.max(0, this.options.parallelism - this.inFlight);
  }

  onTriesFinished(listener: (finished: FinishedTi[]) => void): void {
    this.listeners.push(listener);
  }

  submit(requests: TryRequest[]): void {
    this.track(this.claimAndRun(requests));
  }

  /** What a worker reports with its heartbeat. */
  stats(): WorkerStats {
    return { running: this.running.size, triesDone: this.triesDone, triesFailed: this.triesFailed };
  }

  /**
   * Claims the tries and starts the ones won; resolves with those once the claims are decided (a
   * broker worker acknowledges its messages then). Tries lost to another claimer are dropped.
   */
  async claimAndRun(requests: TryRequest[]): Promise<TryRequest[]> {
    if (requests.length === 0) return [];
    const { logger } = this.options;
    const limit = this.options.xcomMaxBytes;
    if (limit !== undefined) requests = requests.map((r) => ({ ...r, xcomMaxBytes: limit }));
    requests = withNodeEnvironment(requests, this.options.taskEnvironment);
    this.inFlight += requests.length;
    const claimer = { hostname: this.hostname, worker: this.options.workerName };
    const won = await retryUntilDone("claiming tries", () => claimTries(this.store, claimer, requests), logger);
    this.inFlight -= requests.length - won.length;
    for (const request of won) {
      this.running.set(request.tiId, request);
      this.track(
        this.runWithModule(request).then((outcome) => {
          this.inFlight--;
          this.running.delete(request.tiId);
          this.record({ request, outcome });
        }),
      );
    }
    return won;
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /**
   * Stops every running try and hands it back: its task instance is set to restarting with one more
   * try allowed, so the scheduler runs it again (elsewhere) without counting this try against its retries.
   */
  async handBack(reason: string): Promise<void> {
    const requests = [...this.running.values()].filter((r) => !this.stopping.has(r.tiId));
    if (requests.length === 0) return;
    const { logger } = this.options;
    await retryUntilDone("handing tries back", () => handBackTries(this.store, this.options.workerName, requests, reason, this.options.taskLogMaxBytes), logger);
    for (const request of requests) {
      logger.warn({ dag_id: request.dagId, task_id: request.taskId, run_id: request.runId, try_number: request.tryNumber, reason }, "handing a try back");
      if (this.pool.stop(request.tiId, reason)) this.stopping.add(request.tiId);
    }
  }

  /** Runs a try on the pool with its DAG module as a local file; a module that cannot be had fails the try. */
  private async runWithModule(request: TryRequest): Promise<TryOutcome> {
    try {
      return await this.pool.run({ ...request, modulePath: await this.options.modules.localPath(request.moduleHash) });
    } catch (error) {
      const why = `cannot load the DAG module of version ${request.dagVersionId}: ${(error as Error).message}`;
      this.logs.push({ request, text: logLine("ERROR", `try ended: failed: ${why}`), at: Date.now() });
      return { state: "failed", error: why };
    }
  }

  /**
   * Stops the running tries whose task instance someone else changed in the DB (cleared to
   * restarting, marked success or failed, skipped by a run timeout): their process group is killed
   * and the reason written to their log; their outcome is then not recorded.
   */
  private async stopChangedTries(): Promise<void> {
    if (this.running.size === 0 || this.watching) return;
    this.watching = true;
    try {
      for (const part of chunks([...this.running.keys()])) {
        const rows = await this.store.db.selectFrom("task_instance").select(["id", "state", "try_number"]).where("id", "in", part).execute();
        for (const row of rows) {
          const request = this.running.get(row.id);
          if (!request || this.stopping.has(row.id)) continue;
          if (row.state === "running" && row.try_number === request.tryNumber) continue;
          const reason = stopReason(row.state, request.tryNumber, row.try_number);
          this.options.logger.info({ dag_id: request.dagId, task_id: request.taskId, run_id: request.runId, try_number: request.tryNumber, reason }, "stopping a try");
          if (this.pool.stop(row.id, reason)) this.stopping.add(row.id);
        }
      }
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, "could not check running tries for changes; trying again");
    } finally {
      this.watching = false;
    }
  }

  private record(finished: FinishedTry): void {
    this.finished.push(finished);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Outcomes that arrive together are written in one transaction.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flushing.then(() => this.flush());
    });
  }

  /** Writes the logs of running tries, so that they can be followed while the tries run. */
  private async flushLogs(): Promise<void> {
    const logs = this.logs;
    this.logs = [];
    if (logs.length === 0) return;
    const cap = logCap(this.store, this.options.taskLogMaxBytes);
    await retryUntilDone("writing try logs", () => this.store.transaction((trx) => appendTryLogs(trx, logs, cap)), this.options.logger);
  }

  private async flush(): Promise<void> {
    const batch = this.finished;
    this.finished = [];
    if (batch.length === 0) return;
    const logs = this.logs;
    this.logs = [];
    // An outcome is never dropped: keep trying while the DB is away. Its log goes in the same transaction.
    const recorded = await retryUntilDone(
      "recording try outcomes",
      () => finishTries(this.store, batch, logs, this.options.taskLogMaxBytes),
      this.options.logger,
    );
    // Tries whose task instance someone else changed: close their try row, send a cleared one back to none.
    const recordedIds = new Set(recorded.map((r) => r.tiId));
    const changed = batch.filter((f) => !recordedIds.has(f.request.tiId)).map((f) => f.request);
    if (changed.length > 0) {
      await retryUntilDone("settling stopped tries", () => settleStoppedTries(this.store, changed), this.options.logger);
    }
    for (const request of changed) this.stopping.delete(request.tiId);
    this.triesDone += recorded.length;
    this.triesFailed += recorded.filter((r) => r.state === "failed" || r.state === "up_for_retry").length;
    for (const listener of this.listeners) listener(recorded);
  }

  /**
   * Waits up to `graceMs` for running tries to end. Then, with `handBackReason`, hands the rest back
   * (see handBack); without, stops them (they end as failed).
   */
  async close(graceMs = 0, handBackReason?: string): Promise<void> {
    if (graceMs > 0) await this.pool.drain(graceMs);
    if (handBackReason !== undefined) {
      await this.handBack(handBackReason);
      // The stopped runners get SIGTERM, then SIGKILL after the pool's kill grace.
      await this.pool.drain(5_000);
    }
    clearInterval(this.logTimer);
    clearInterval(this.watchTimer);
    await this.pool.close();
    // The outcomes of the tries the pool just ended reach record() a few ticks later: wait for them,
    // so that the last flush below writes them (the store is closed after this).
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.flushing;
    await this.flush();
    // Log text that came with no outcome (a try stopped by the shutdown) is written too.
    await this.flushLogs();
  }
}
