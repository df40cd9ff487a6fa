/**
 * The local executor: claims queued tries in the DB, runs them on the warm runner pool, and records
 * their outcomes in batches. It tells its owner (the scheduler) which DAG runs moved, so that the
 * downstream tasks are looked at right away instead of at the next tick.
 */
import os from "node:os";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { retryUntilDone } from "../util/retry.js";
import type { Executor, FinishedTi } from "./executor.js";
import type { TryRequest } from "./protocol.js";
import { RunnerPool } from "./runner-pool.js";
import { appendTryLogs, LOG_FLUSH_MS, type LogChunk } from "./try-logs.js";
import { claimTries, finishTries, type FinishedTry } from "./tries.js";

export interface LocalExecutorOptions {
  parallelism: number;
  warmRunners: number;
  logger: Logger;
  hostname?: string;
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
    });
    this.logTimer = setInterval(() => {
      this.flushing = this.flushing.then(() => this.flushLogs());
    }, LOG_FLUSH_MS);
  }

  freeSlots(): number {
    return Math.max(0, this.options.parallelism - this.inFlight);
  }

  onTriesFinished(listener: (finished: FinishedTi[]) => void): void {
    this.listeners.push(listener);
  }

  submit(requests: TryRequest[]): void {
    if (requests.length === 0) return;
    this.inFlight += requests.length;
    void this.claimAndRun(requests);
  }

  private async claimAndRun(requests: TryRequest[]): Promise<void> {
    const { logger } = this.options;
    const won = await retryUntilDone("claiming tries", () => claimTries(this.store, this.hostname, requests), logger);
    this.inFlight -= requests.length - won.length;
    for (const request of won) {
      void this.pool.run(request).then((outcome) => {
        this.inFlight--;
        this.record({ request, outcome });
      });
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
    await retryUntilDone("writing try logs", () => appendTryLogs(this.store.db, logs), this.options.logger);
  }

  private async flush(): Promise<void> {
    const batch = this.finished;
    this.finished = [];
    if (batch.length === 0) return;
    const logs = this.logs;
    this.logs = [];
    // An outcome is never dropped: keep trying while the DB is away. Its log goes in the same transaction.
    const recorded = await retryUntilDone("recording try outcomes", () => finishTries(this.store, batch, logs), this.options.logger);
    for (const listener of this.listeners) listener(recorded);
  }

  async close(graceMs = 0): Promise<void> {
    if (graceMs > 0) await this.pool.drain(graceMs);
    clearInterval(this.logTimer);
    await this.pool.close();
    await this.flushing;
    await this.flush();
    // Log text that came with no outcome (a try stopped by the shutdown) is written too.
    await this.flushLogs();
  }
}
