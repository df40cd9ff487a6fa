/** A worker's heartbeat loop: DB-time heartbeats with its counters; notices when it was declared dead. */
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { heartbeat, registerWorker, type WorkerIdentity, type WorkerStats } from "./registry.js";

export interface HeartbeatOptions {
  store: Store;
  identity: WorkerIdentity;
  intervalMs: number;
  timeoutMs: number;
  stats: () => WorkerStats;
  logger: Logger;
}

export class WorkerHeartbeat {
  private timer?: NodeJS.Timeout;
  private beating: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(private readonly options: HeartbeatOptions) {}

  async start(): Promise<void> {
    const { store, identity, timeoutMs, intervalMs } = this.options;
    await registerWorker(store, identity, timeoutMs);
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.beat());
    }, intervalMs);
  }

  private async beat(): Promise<void> {
    const { store, identity, logger } = this.options;
    try {
      const alive = await heartbeat(store, identity.name, this.options.stats());
      if (this.failing) logger.info({ worker: identity.name }, "heartbeats reach the DB again");
      this.failing = false;
      if (!alive) {
        // A scheduler gave up on us and settled our tries (their runners are stopped by the executor's
        // watch, since their task instances changed). Come back as a new life of the same worker.
        logger.error(
          { worker: identity.name, timeout_ms: this.options.timeoutMs },
          "this worker was declared dead (its heartbeats did not reach the DB in time) and its tries were retried or failed elsewhere; registering again",
        );
        await registerWorker(store, identity, this.options.timeoutMs);
      }
    } catch (error) {
      if (!this.failing) logger.warn({ worker: identity.name, err: (error as Error).message }, "could not record the heartbeat; trying again");
      this.failing = true;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
  }
}
