/**
 * The broker side of the bench: Redis and RabbitMQ, each checked before use and tidied before each
 * scenario (only the bench's own keys and queues: the broker may serve others at the same time);
 * Aloft's `aloft worker` processes; and the bare-queue baselines they are compared with, run by
 * bench/bare-worker.mjs processes on the same broker.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import amqplib from "amqplib";
import { FlowProducer, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { pidsByCommand, startCpuCount, startMonitor } from "./lib/monitor.mjs";
import { log, startAloft, startNode, stopProcess } from "./lib/processes.mjs";
import { FAN_WIDTH } from "./lib/runs.mjs";

/** The Aloft queue the bench's tasks go to and its workers serve: not "default", which others may use. */
export const BENCH_QUEUE = "bench";
export const WORKER_COUNT = 2;

const BARE_WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "bare-worker.mjs");
/** Aloft's BullMQ prefix and RabbitMQ queue prefix (src/broker/redis.ts, src/broker/amqp.ts). */
const ALOFT_BULLMQ_PREFIX = "aloft";
const ALOFT_AMQP_PREFIX = "aloft.";
/** The bare baselines' own names, apart from Aloft's. */
const BARE_BULLMQ_PREFIX = "aloft-bench";
const BARE_QUEUE = "bare";
const BARE_AMQP_QUEUE = "aloft-bench.bare";
const BARE_AMQP_DONE_QUEUE = "aloft-bench.bare-done";
/** Bare-queue runs per scenario; the fastest counts, so the ratio never flatters Aloft. */
export const BARE_RUNS = 2;
const BARE_TIMEOUT_MS = 120_000;
const CONNECT_TIMEOUT_MS = 3_000;

const masked = (url) => url.replace(/\/\/[^@/]*@/, "//…@");

// ---------------------------------------------------------------------------------------------
// Redis

async function withRedis(url, use) {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let lastError;
  redis.on("error", (error) => (lastError = error));
  try {
    await redis.connect().catch((error) => {
      throw lastError ?? error; // connect() says only "Connection is closed"
    });
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** Deletes the keys of one BullMQ queue (`prefix:queue:*`), and nothing else. */
async function deleteBullmqQueue(redis, prefix, queue) {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:${queue}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}

/** Runs one BullMQ flow of a parent with FAN_WIDTH no-op children; seconds from adding it to the parent's end. */
async function bareBullmqFlow(url) {
  // BullMQ leaves connections it is given open on close(): they are disconnected below.
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const eventsConnection = new Redis(url, { maxRetriesPerRequest: null });
  const events = new QueueEvents(BARE_QUEUE, { connection: eventsConnection, prefix: BARE_BULLMQ_PREFIX });
  const flows = new FlowProducer({ connection, prefix: BARE_BULLMQ_PREFIX });
  try {
    await events.waitUntilReady();
    const children = Array.from({ length: FAN_WIDTH }, (_, i) => ({ name: "child", queueName: BARE_QUEUE, data: { i } }));
    const started = Date.now();
    const node = await flows.add({ name: "parent", queueName: BARE_QUEUE, data: {}, children });
    const parentEnd = await node.job.waitUntilFinished(events, BARE_TIMEOUT_MS); // the parent returns Date.now()
    return (parentEnd - started) / 1000;
  } finally {
    await flows.close();
    await events.close();
    connection.disconnect();
    eventsConnection.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ

async function withAmqp(url, use) {
  const connection = await amqplib.connect(url, { timeout: CONNECT_TIMEOUT_MS });
  connection.on("error", () => undefined); // a failed call rejects with it
  try {
    return await use(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function deleteAmqpQueues(connection, queues) {
  const channel = await connection.createChannel();
  try {
    for (const queue of queues) await channel.deleteQueue(queue);
  } finally {
    await channel.close();
  }
}

/**
 * The bare RabbitMQ fan: FAN_WIDTH persistent messages to a durable queue (published on a confirm
 * channel, as Aloft publishes), consumed by the bare workers, which answer each on a reply queue; once
 * all have answered, one final message. Seconds from the first publish to the final message's end.
 */
async function bareAmqpFan(url) {
  return withAmqp(url, async (connection) => {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(BARE_AMQP_QUEUE, { durable: true });
    await channel.assertQueue(BARE_AMQP_DONE_QUEUE, { durable: false });
    let answered = 0;
    let timer;
    const finalEnd = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the bare RabbitMQ fan did not finish within ${BARE_TIMEOUT_MS / 1000} s`)), BARE_TIMEOUT_MS);
      void channel.consume(
        BARE_AMQP_DONE_QUEUE,
        (message) => {
          const { final, end } = JSON.parse(message.content.toString());
          if (final) resolve(end);
          else if (++answered === FAN_WIDTH) {
            channel.sendToQueue(BARE_AMQP_QUEUE, Buffer.from(JSON.stringify({ final: true })), { persistent: true });
          }
        },
        { noAck: true },
      );
    });
    const started = Date.now();
    for (let i = 0; i < FAN_WIDTH; i++) {
      channel.sendToQueue(BARE_AMQP_QUEUE, Buffer.from(JSON.stringify({ i })), { persistent: true, contentType: "application/json" });
    }
    await channel.waitForConfirms();
    try {
      return (Number(await finalEnd) - started) / 1000;
    } finally {
      clearTimeout(timer);
      await channel.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The brokers

/**
 * @typedef {object} BenchBroker
 * @property {string} id        --only value
 * @property {string} name
 * @property {string} url
 * @property {string} serverCommand the broker server's process name, to count its CPU when it runs on this machine
 * @property {string} bareLabel what the bare baseline is, for the report
 * @property {() => Promise<string|null>} unavailable why it cannot be used, or null
 * @property {() => Promise<void>} tidy deletes what the bench left in it: Aloft's bench queue, the bare queues
 * @property {(url: string) => Promise<number>} bareRun one bare fan, in seconds
 */

/** @type {Record<string, BenchBroker>} */
export const BROKERS = {
  redis: {
    id: "redis",
    name: "Redis",
    url: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
    serverCommand: "redis-server",
    bareLabel: `BullMQ FlowProducer: 1 parent over ${FAN_WIDTH} no-op children`,
    async unavailable() {
      try {
        await withRedis(this.url, (redis) => redis.ping());
        return null;
      } catch (error) {
        return `Redis at ${masked(this.url)} is unreachable (set BENCH_REDIS_URL): ${error.message || error.code}`;
      }
    },
    async tidy() {
      await withRedis(this.url, async (redis) => {
        await deleteBullmqQueue(redis, ALOFT_BULLMQ_PREFIX, BENCH_QUEUE);
        await deleteBullmqQueue(redis, BARE_BULLMQ_PREFIX, BARE_QUEUE);
      });
    },
    bareRun: bareBullmqFlow,
  },
  rabbitmq: {
    id: "rabbitmq",
    name: "RabbitMQ",
    url: process.env.BENCH_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672",
    serverCommand: "beam.smp",
    bareLabel: `amqplib: ${FAN_WIDTH} persistent messages, each answered on a reply queue, then 1 final message`,
    async unavailable() {
      try {
        await withAmqp(this.url, async () => undefined);
        return null;
      } catch (error) {
        return `RabbitMQ at ${masked(this.url)} is unreachable (set BENCH_RABBITMQ_URL): ${error.message || error.code}`;
      }
    },
    async tidy() {
      await withAmqp(this.url, (connection) =>
        deleteAmqpQueues(connection, [ALOFT_AMQP_PREFIX + BENCH_QUEUE, BARE_AMQP_QUEUE, BARE_AMQP_DONE_QUEUE]),
      );
    },
    bareRun: bareAmqpFan,
  },
};

/** Starts WORKER_COUNT `aloft worker` processes on the bench queue; returns [{ name, child, logFile }]. */
export function startWorkers({ env, home, concurrency, cpuProfDir }) {
  return Array.from({ length: WORKER_COUNT }, (_, i) => {
    const name = `bench-w${i + 1}`;
    const logFile = path.join(home, `${name}.log`);
    const child = startAloft(["worker", "--name", name, "--queues", BENCH_QUEUE, "--concurrency", String(concurrency)], {
      env,
      logFile,
      cpuProfDir,
    });
    return { name: `worker ${name}`, child, logFile };
  });
}

/** Starts a bare worker process and resolves once it consumes. */
async function startBareWorker(broker, concurrency, logFile) {
  const child = startNode(BARE_WORKER, [broker.id, broker.url, String(concurrency)], { env: process.env, logFile, ipc: true });
  await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`the bare ${broker.name} worker exited with code ${code} before it was ready (log: ${logFile})`)));
  });
  return child;
}

/**
 * The bare-queue baseline on `broker`: WORKER_COUNT bare worker processes with `concurrency`, then
 * BARE_RUNS fans. Returns the seconds of each run, the fastest, the workers' peak RSS, and the CPU
 * per task of the workers, the broker server (when on this machine) and the bench adding the work.
 */
export async function runBareBaseline(broker, concurrency, home) {
  await broker.tidy();
  const workers = [];
  try {
    for (let i = 0; i < WORKER_COUNT; i++) workers.push(await startBareWorker(broker, concurrency, path.join(home, `bare-${broker.id}-${i + 1}.log`)));
    const stopMonitor = startMonitor(workers.map((w) => w.pid));
    const stopServer = startCpuCount(pidsByCommand(broker.serverCommand));
    const benchCpu = process.cpuUsage(); // the bench adds the work: its CPU counts too
    const runs = [];
    for (let i = 0; i < BARE_RUNS; i++) {
      runs.push(await broker.bareRun(broker.url));
      log(`${broker.name} bare queue: run ${i + 1} took ${runs.at(-1).toFixed(2)} s`);
    }
    const monitored = stopMonitor();
    const { user, system } = process.cpuUsage(benchCpu);
    const cpuS = monitored.processes.reduce((sum, p) => sum + p.cpuS, 0) + (stopServer(pidsByCommand(broker.serverCommand)) ?? 0) + (user + system) / 1e6;
    return {
      label: broker.bareLabel,
      concurrency,
      runs,
      seconds: Math.min(...runs),
      rssMb: monitored.processes.map((p) => p.rssMb),
      cpuMsPerTask: (cpuS * 1000) / (BARE_RUNS * (FAN_WIDTH + 1)),
    };
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await broker.tidy();
  }
}
