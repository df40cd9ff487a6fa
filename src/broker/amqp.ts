/**
 * RabbitMQ as the broker, through amqplib with amqp-connection-manager, which reconnects with backoff
 * and sets channels up again. Queues are durable and messages persistent, so tries survive a broker
 * restart. A delivery is acknowledged as soon as its claim is decided (not when the try ends), so a
 * long try never meets RabbitMQ's consumer timeout; the channel's prefetch bounds the deliveries not
 * yet decided, and a full worker cancels its consumers until a slot frees.
 */
import amqp, { type AmqpConnectionManager, type ChannelWrapper } from "amqp-connection-manager";
import type { Channel, ConsumeMessage } from "amqplib";
import type { FinishedTi } from "../executor/executor.js";
import type { TryRequest } from "../executor/protocol.js";
import type { Logger } from "../logging.js";
import { maskDatabaseUrl } from "../store/url.js";
import { DEFAULT_QUEUE, type Broker, type DeliveryHandler } from "./broker.js";

const QUEUE_PREFIX = "aloft.";
const FINISHED_EXCHANGE = "aloft.tries-finished";

export class AmqpBroker implements Broker {
  readonly kind = "rabbitmq";
  readonly url: string;
  private readonly connection: AmqpConnectionManager;
  private readonly publisher: ChannelWrapper;
  private readonly declared = new Set<string>();
  private consumer?: ChannelWrapper;
  /** The consuming channel of the current connection, and its consumer tags. */
  private channel?: { ch: Channel; tags: string[] };
  private consuming?: { queues: string[]; handler: DeliveryHandler };
  private paused = false;

  constructor(
    rawUrl: string,
    private readonly logger: Logger,
  ) {
    this.url = maskDatabaseUrl(rawUrl);
    // noDelay: without it Nagle's algorithm holds each small message ~40 ms, on every hop of a try.
    this.connection = amqp.connect([rawUrl], { heartbeatIntervalInSeconds: 5, reconnectTimeInSeconds: 1, connectionOptions: { noDelay: true } });
    let down = false;
    this.connection.on("disconnect", ({ err }) => {
      if (!down) logger.warn({ broker: this.url, err: err?.message }, "RabbitMQ connection lost; reconnecting");
      down = true;
    });
    this.connection.on("connectFailed", ({ err }) => {
      if (!down) logger.warn({ broker: this.url, err: err?.message }, "cannot connect to RabbitMQ; retrying");
      down = true;
    });
    this.connection.on("connect", () => {
      if (down) logger.info({ broker: this.url }, "RabbitMQ connection restored");
      down = false;
    });
    // A confirm channel: publish resolves once the broker has the message.
    this.publisher = this.connection.createChannel({ confirm: true, json: false });
  }

  /** Declares each queue once per channel; setups run again after a reconnect. */
  private async declare(names: string[]): Promise<void> {
    for (const name of names) {
      if (this.declared.has(name)) continue;
      this.declared.add(name);
      await this.publisher.addSetup((ch: Channel) => ch.assertQueue(QUEUE_PREFIX + name, { durable: true }));
    }
  }

  async publish(requests: TryRequest[]): Promise<void> {
    await this.declare([...new Set(requests.map((r) => r.queue ?? DEFAULT_QUEUE))]);
    await Promise.all(
      requests.map((r) =>
        this.publisher.sendToQueue(QUEUE_PREFIX + (r.queue ?? DEFAULT_QUEUE), Buffer.from(JSON.stringify(r)), {
          persistent: true,
          contentType: "application/json",
        }),
      ),
    );
  }

  async consume(queues: string[], concurrency: number, handler: DeliveryHandler): Promise<void> {
    this.consuming = { queues, handler };
    this.consumer = this.connection.createChannel({
      json: false,
      // Runs on every (re)connect, with the new raw channel: deliveries are acknowledged on the channel
      // they came from, so an ack after a reconnect cannot hit the new channel with an unknown tag.
      setup: async (ch: Channel) => {
        // global: one limit for all of this channel's consumers, so several queues share the concurrency.
        await ch.prefetch(concurrency, true);
        for (const name of queues) await ch.assertQueue(QUEUE_PREFIX + name, { durable: true });
        this.channel = { ch, tags: [] };
        if (!this.paused) await this.startConsumers();
      },
    });
    await this.consumer.waitForConnect();
  }

  private async startConsumers(): Promise<void> {
    const { channel, consuming } = this;
    if (!channel || !consuming) return;
    for (const name of consuming.queues) {
      const { consumerTag } = await channel.ch.consume(QUEUE_PREFIX + name, (message) => message && this.deliver(channel.ch, consuming.handler, message), {
        noAck: false,
      });
      channel.tags.push(consumerTag);
    }
  }

  private deliver(ch: Channel, handler: DeliveryHandler, message: ConsumeMessage): void {
    const settle = (ack: boolean, requeue = true) => {
      try {
        if (ack) ch.ack(message);
        else ch.nack(message, false, requeue);
      } catch {
        // The channel closed meanwhile: the broker delivers the message again, and its claim decides.
      }
    };
    if (this.paused) {
      settle(false);
      return;
    }
    let request: TryRequest;
    try {
      request = JSON.parse(message.content.toString()) as TryRequest;
    } catch (error) {
      this.logger.error({ err: (error as Error).message, queue: message.fields.routingKey }, "dropped a message that is not a try (not JSON)");
      settle(false, false);
      return;
    }
    // Settled when the claim is decided; a busy worker hands the message back for another worker.
    handler(request).then(
      () => settle(true),
      () => settle(false),
    );
  }

  async pause(): Promise<void> {
    if (this.paused) return;
    this.paused = true;
    const channel = this.channel;
    if (!channel) return;
    const tags = channel.tags.splice(0);
    await Promise.all(tags.map((tag) => channel.ch.cancel(tag).catch(() => undefined)));
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    await this.startConsumers().catch(() => undefined); // a closed channel consumes again in its setup
  }

  private announcer?: ChannelWrapper;

  async announceFinished(finished: FinishedTi[]): Promise<void> {
    if (finished.length === 0) return;
    this.announcer ??= this.connection.createChannel({
      json: false,
      setup: (ch: Channel) => ch.assertExchange(FINISHED_EXCHANGE, "fanout", { durable: false }),
    });
    await this.announcer.publish(FINISHED_EXCHANGE, "", Buffer.from(JSON.stringify(finished)));
  }

  async onFinished(listener: (finished: FinishedTi[]) => void): Promise<void> {
    const channel = this.connection.createChannel({
      json: false,
      setup: async (ch: Channel) => {
        await ch.assertExchange(FINISHED_EXCHANGE, "fanout", { durable: false });
        const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
        await ch.bindQueue(queue, FINISHED_EXCHANGE, "");
        await ch.consume(queue, (m) => m && listener(JSON.parse(m.content.toString()) as FinishedTi[]), { noAck: true });
      },
    });
    await channel.waitForConnect();
  }

  async depths(queues: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const name of queues) {
      const reply = await this.publisher.assertQueue(QUEUE_PREFIX + name, { durable: true });
      out.set(name, reply.messageCount);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.consumer?.close();
    await this.announcer?.close();
    await this.publisher.close();
    await this.connection.close();
  }
}
