#!/usr/bin/env node
/**
 * A bare-queue worker for the bench's baseline (started by bench/brokers.mjs, one process each, as
 * Aloft's workers are): no-op jobs straight off the broker, with no state recorded anywhere.
 *   node bench/bare-worker.mjs redis URL CONCURRENCY      BullMQ Worker on the bench's flow queue; the
 *                                                         parent job returns the time it ended
 *   node bench/bare-worker.mjs rabbitmq URL CONCURRENCY   amqplib consumer (prefetch CONCURRENCY); acks
 *                                                         each message and answers it on the reply queue
 * Tells its parent it is consuming with an IPC message; stops on SIGTERM.
 */
import amqplib from "amqplib";
import { Worker } from "bullmq";
import { Redis } from "ioredis";

// Names shared with bench/brokers.mjs.
const BULLMQ_PREFIX = "aloft-bench";
const BULLMQ_QUEUE = "bare";
const AMQP_QUEUE = "aloft-bench.bare";
const AMQP_DONE_QUEUE = "aloft-bench.bare-done";

const [kind, url, concurrencyText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);

async function bullmqWorker() {
  const worker = new Worker(BULLMQ_QUEUE, async (job) => (job.name === "parent" ? Date.now() : undefined), {
    connection: new Redis(url, { maxRetriesPerRequest: null }),
    prefix: BULLMQ_PREFIX,
    concurrency,
  });
  worker.on("failed", (job, error) => process.stderr.write(`job ${job?.id} failed: ${error.message}\n`));
  await worker.waitUntilReady();
  return () => worker.close();
}

async function amqpWorker() {
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  await channel.prefetch(concurrency);
  await channel.assertQueue(AMQP_QUEUE, { durable: true });
  await channel.consume(AMQP_QUEUE, (message) => {
    const { final } = JSON.parse(message.content.toString());
    channel.ack(message);
    channel.sendToQueue(AMQP_DONE_QUEUE, Buffer.from(JSON.stringify({ final: final === true, end: Date.now() })));
  });
  return () => connection.close();
}

const close = kind === "redis" ? await bullmqWorker() : kind === "rabbitmq" ? await amqpWorker() : null;
if (!close) throw new Error(`bare-worker: unknown kind '${kind}'; use redis or rabbitmq`);
process.send("ready");
process.once("SIGTERM", () => {
  void close().finally(() => process.exit(0));
});
