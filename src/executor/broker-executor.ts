/**
 * The scheduler's side of a broker: it publishes queued tries to their queue, and hears which ended
 * from the workers' announcements. An announcement only says where to look: the states are read from
 * the DB (another deployment on the same broker announces task instance ids of its own database).
 * Announcements are best effort, so it also reads all its tries back every few seconds; a try still
 * unclaimed after `resendMs` is published again (a broker that restarted empty lost it; a second
 * delivery of a try that was not lost only loses its claim).
 */
import type { Broker } from "../broker/broker.js";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { chunks } from "../util/chunks.js";
import { retryUntilDone } from "../util/retry.js";
import type { Executor, FinishedTi } from "./executor.js";
import type { TryRequest } from "./protocol.js";

export interface BrokerExecutorOptions {
  /** Tries queued or running through the broker at once (config parallelism). */
  parallelism: number;
  logger: Logger;
  /** See config broker_resend_ms. */
  resendMs: number;
  /** How often tries are read back from the DB. Default 2000 ms. */
  reconcileMs?: number;
}

interface Sent {
  request: TryRequest;
  sentAt: number;
}

export class BrokerExecutor implements Executor {
  private readonly sent = new Map<number, Sent>();
  private readonly listeners: Array<(finished: FinishedTi[]) => void> = [];
  private publishing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private reconciling = false;

  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
    private readonly options: BrokerExecutorOptions,
  ) {
    this.timer = setInterval(() => void this.reconcile(), options.reconcileMs ?? 2_000);
  }

  /** Subscribes to the workers' announcements of finished tries. */
  async start(): Promise<void> {
    await this.broker.onFinished((finished) => {
      const ids = finished.map((f) => f.tiId).filter((id) => this.sent.has(id));
      if (ids.length > 0) void this.readBack(ids, false);
    });
  }

  freeSlots(): number {
    return Math.max(0, this.options.parallelism - this.sent.size);
  }

  onTriesFinished(listener: (finished: FinishedTi[]) => void): void {
    this.listeners.push(listener);
  }

  submit(requests: TryRequest[]): void {
    if (requests.length === 0) return;
    const now = Date.now();
    for (const request of requests) this.sent.set(request.tiId, { request, sentAt: now });
    this.publish(requests);
  }

  private publish(requests: TryRequest[]): void {
    // In order, and never dropped: a broker that is away is retried with backoff (and logged).
    this.publishing = this.publishing.then(() =>
      retryUntilDone(`sending tries to ${this.broker.kind} (${this.broker.url})`, () => this.broker.publish(requests), this.options.logger),
    );
  }

  private finished(finished: FinishedTi[]): void {
    const ours = finished.filter((f) => this.sent.delete(f.tiId));
    if (ours.length === 0) return;
    for (const listener of this.listeners) listener(ours);
  }

  /** Every few seconds: tries that ended without an announcement reaching us, and unclaimed ones to send again. */
  private async reconcile(): Promise<void> {
    if (this.reconciling || this.sent.size === 0) return;
    this.reconciling = true;
    try {
      await this.readBack([...this.sent.keys()], true);
    } finally {
      this.reconciling = false;
    }
  }

  /** Reads the given tries from the DB: tells the listeners about the ones that ended; with `resend`, sends the stale unclaimed ones again. */
  private async readBack(ids: number[], resend: boolean): Promise<void> {
    try {
      const now = Date.now();
      const ended: FinishedTi[] = [];
      const again: TryRequest[] = [];
      for (const part of chunks(ids)) {
        const rows = await this.store.db
          .selectFrom("task_instance")
          .select(["id", "state", "try_number", "next_try_at"])
          .where("id", "in", part)
          .execute();
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const id of part) {
          const sent = this.sent.get(id);
          if (!sent) continue;
          const row = byId.get(id);
          const sameTry = row?.try_number === sent.request.tryNumber;
          if (sameTry && row.state === "queued") {
            if (resend && now - sent.sentAt >= this.options.resendMs) {
              sent.sentAt = now;
              again.push(sent.request);
            }
          } else if (!row?.state) {
            // Gone, or back to none (handed back, cleared): nothing to announce; the next tick reads it.
            this.sent.delete(id);
          } else if (!sameTry || row.state !== "running") {
            ended.push({ tiId: id, state: row.state, ...(row.next_try_at ? { nextTryAt: Number(row.next_try_at) } : {}) });
          }
        }
      }
      if (again.length > 0) {
        this.options.logger.warn(
          { tries: again.length, broker: this.broker.url, after_ms: this.options.resendMs },
          "tries were not claimed in time (broker restarted, or no worker serves their queue); sending them again",
        );
        this.publish(again);
      }
      this.finished(ended);
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, "could not read back tries sent to the broker; trying again");
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.publishing;
    await this.broker.close();
  }
}
