/**
 * Redis as the broker, through BullMQ: one BullMQ queue per Aloft queue, a job per try. The job id is
 * the try's (task instance, try number), so publishing a try again while its job exists adds nothing;
 * schedulers hear of finished tries on a pub/sub channel. ioredis reconnects by itself and BullMQ
 * carries on; a Redis that restarts empty loses waiting jobs, which the scheduler publishes again
 * (see BrokerExecutor).
 */
import { Queue, WaitingError, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import type { FinishedTi } from "../executor/executor.js";
import type { TryRequest } from "../executor/protocol.js";
import type { Logger } from "../logging.js";
import { maskDatabaseUrl } from "../store/url.js";
import { DEFAULT_QUEUE, WorkerBusy, type Broker, type DeliveryHandler } from "./broker.js";

const PREFIX = "aloft";
const FINISHED_CHANNEL = "aloft:tries-finished";

export class RedisBroker implements Broker {
  readonly kind = "redis";
  readonly url: string;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly connections: Redis[] = [];
  /** Set by close(), so that our own disconnects are not logged as losses. */
  private closing = false;

  constructor(
    private readonly rawUrl: string,
    private readonly logger: Logger,
  ) {
    this.url = maskDatabaseUrl(rawUrl);
  }

  /** A connection of our own; workers and subscribers block, so BullMQ needs maxRetriesPerRequest null. */
  private connect(purpose: string): Redis {
    const redis = new Redis(this.rawUrl, {
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    });
    let down = false;
    const lost = (err?: string) => {
      if (!down && !this.closing) this.logger.warn({ broker: this.url, purpose, err }, "Redis connection lost; reconnecting");
      down = true;
    };
    // A quick restart shows only as "close"; a Redis that stays away also gives connection errors.
    redis.on("close", () => lost());
    redis.on("error", (error: Error) => lost(error.message));
    redis.on("ready", () => {
      if (down) this.logger.info({ broker: this.url, purpose }, "Redis connection restored");
      down = false;
    });
    this.connections.push(redis);
    return redis;
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connect(`queue ${name}`), prefix: PREFIX });
      queue.on("error", () => undefined); // the connection's own handler logs it
      this.queues.set(name, queue);
    }
    return queue;
  }

  async publish(requests: TryRequest[]): Promise<void> {
    const byQueue = new Map<string, TryRequest[]>();
    for (const r of requests) {
      const name = r.queue ?? DEFAULT_QUEUE;
      byQueue.set(name, [...(byQueue.get(name) ?? []), r]);
    }
    for (const [name, part] of byQueue) {
      await this.queue(name).addBulk(
        part.map((request) => ({
          name: "try",
          data: request,
          opts: { jobId: jobIdOf(request), removeOnComplete: true, removeOnFail: true },
        })),
      );
    }
  }

  async consume(queues: string[], concurrency: number, handler: DeliveryHandler): Promise<void> {
    for (const name of queues) {
      const worker = new Worker(
        name,
        async (job: Job<TryRequest>, token?: string) => {
          try {
            await handler(job.data);
          } catch (error) {
            if (!(error instanceof WorkerBusy)) throw error;
            // Full: the job goes back to waiting for another worker (or this one, later).
            await job.moveToWait(token);
            throw new WaitingError();
          }
        },
        { connection: this.connect(`worker ${name}`), prefix: PREFIX, concurrency, autorun: true },
      );
      worker.on("error", () => undefined); // the connection's own handler logs it
      worker.on("failed", (job, error) => {
        this.logger.error({ queue: name, job: job?.id, err: error.message }, "handling a try message failed");
      });
      this.workers.push(worker);
    }
  }

  async pause(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.pause(true)));
  }

  async resume(): Promise<void> {
    for (const w of this.workers) w.resume();
  }

  private publisher?: Redis;

  async announceFinished(finished: FinishedTi[]): Promise<void> {
    if (finished.length === 0) return;
    this.publisher ??= this.connect("announcements");
    await this.publisher.publish(FINISHED_CHANNEL, JSON.stringify(finished));
  }

  async onFinished(listener: (finished: FinishedTi[]) => void): Promise<void> {
    const subscriber = this.connect("finished tries");
    subscriber.on("message", (_channel: string, text: string) => listener(JSON.parse(text) as FinishedTi[]));
    await subscriber.subscribe(FINISHED_CHANNEL);
  }

  async depths(queues: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const name of queues) {
      const counts = await this.queue(name).getJobCounts("waiting", "prioritized", "delayed");
      out.set(name, (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0));
    }
    return out;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.close(true)));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    for (const c of this.connections) c.disconnect();
  }
}

/** BullMQ job ids may not be plain integers; this one names the try. */
function jobIdOf(request: TryRequest): string {
  return `ti${request.tiId}-try${request.tryNumber}`;
}
