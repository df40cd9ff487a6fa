/**
 * The contract between Aloft and a message broker (Redis through BullMQ, RabbitMQ through amqplib):
 * the scheduler publishes tries to their queue; workers consume them. A delivery is acknowledged once
 * its try has been claimed (or lost the claim) in the DB, which is what keeps each try at most once:
 * a repeated delivery finds the try claimed and does nothing.
 */
import { QUEUE_NAME_PATTERN } from "../dag/validate.js";
import { UsageError } from "../errors.js";
import type { FinishedTi } from "../executor/executor.js";
import type { TryRequest } from "../executor/protocol.js";
import type { Logger } from "../logging.js";
import { maskDatabaseUrl } from "../store/url.js";

/** Thrown by a delivery handler when the worker has no free slot: the message goes back to its queue. */
export class WorkerBusy extends Error {
  override name = "WorkerBusy";
}

/** Takes one delivered try; resolves once its claim is decided, after which the message is acknowledged. */
export type DeliveryHandler = (request: TryRequest) => Promise<void>;

export interface Broker {
  /** "redis" or "rabbitmq", for logs and `aloft workers list`. */
  readonly kind: string;
  /** The broker URL with any password masked. */
  readonly url: string;
  /** Sends tries to their queues (`request.queue`, default "default"). */
  publish(requests: TryRequest[]): Promise<void>;
  /** Starts taking tries from `queues`, up to `concurrency` deliveries not yet decided at once. */
  consume(queues: string[], concurrency: number, handler: DeliveryHandler): Promise<void>;
  /** Stops taking tries (the worker is full or shutting down); deliveries that arrive meanwhile are handed back. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Tells schedulers that tries ended and were recorded, so downstream tasks start at once (best effort). */
  announceFinished(finished: FinishedTi[]): Promise<void>;
  onFinished(listener: (finished: FinishedTi[]) => void): Promise<void>;
  /** Messages waiting in each queue. */
  depths(queues: string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export const DEFAULT_QUEUE = "default";

export function checkQueueName(name: string, where: string): string {
  if (!QUEUE_NAME_PATTERN.test(name)) {
    throw new UsageError(`${where}: queue name '${name}' is not valid; use 1 to 200 letters, digits, '_', '.' or '-'`);
  }
  return name;
}

export function isBrokerUrl(url: string): boolean {
  return /^(redis|rediss|amqp|amqps):\/\//.test(url);
}

/** Opens the broker named by `url`: redis:// or rediss:// (BullMQ), amqp:// or amqps:// (RabbitMQ). */
export async function openBroker(url: string, logger: Logger): Promise<Broker> {
  const scheme = url.slice(0, url.indexOf("://"));
  if (scheme === "redis" || scheme === "rediss") {
    const { RedisBroker } = await import("./redis.js");
    return new RedisBroker(url, logger);
  }
  if (scheme === "amqp" || scheme === "amqps") {
    const { AmqpBroker } = await import("./amqp.js");
    return new AmqpBroker(url, logger);
  }
  throw new UsageError(
    `executor '${maskDatabaseUrl(url)}' is neither "local" nor a broker URL; use redis://HOST:6379 or amqp://USER:PASSWORD@HOST:5672`,
  );
}
