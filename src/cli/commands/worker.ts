/** `aloft worker` (run tries from a broker) and `aloft workers list` (what Flower shows Celery users). */
import type { Command } from "commander";
import { checkQueueName, DEFAULT_QUEUE, isBrokerUrl, openBroker } from "../../broker/broker.js";
import { UsageError } from "../../errors.js";
import { createLogger } from "../../logging.js";
import { openStore } from "../../store/db.js";
import { maskDatabaseUrl } from "../../store/url.js";
import { workerOverview } from "../../worker/overview.js";
import { defaultWorkerName } from "../../worker/registry.js";
import { Worker } from "../../worker/worker.js";
import { printRows, requireMigrated, resolveConfig, withGlobalFlags, withStore, type GlobalFlags } from "../context.js";

interface WorkerFlags extends GlobalFlags {
  queues?: string;
  concurrency?: string;
  name?: string;
  broker?: string;
}

export function registerWorkerCommands(program: Command): void {
  withGlobalFlags(
    program
      .command("worker")
      .description("take task tries from the broker (config executor: redis://… or amqp://…) and run them")
      .option("--queues <q1,q2>", `queues to take tries from (default "${DEFAULT_QUEUE}")`)
      .option("--concurrency <n>", "tries run at once (env ALOFT_WORKER_CONCURRENCY, default 16)")
      .option("--name <name>", "unique worker name (default worker@HOST:PID)")
      .option("--broker <url>", "broker URL (env ALOFT_EXECUTOR, config executor)"),
  ).action(async (flags: WorkerFlags) => {
    const { config } = resolveConfig(flags, { workerConcurrency: flags.concurrency, executor: flags.broker });
    const logger = createLogger(config.logLevel, "worker");
    if (!isBrokerUrl(config.executor)) {
      throw new UsageError(
        `aloft worker needs a broker, but executor is '${maskDatabaseUrl(config.executor)}': ` +
          "pass --broker redis://HOST:6379 or amqp://USER:PASSWORD@HOST:5672, or set ALOFT_EXECUTOR or executor in aloft.toml",
      );
    }
    const queues = (flags.queues ?? DEFAULT_QUEUE).split(",").map((q) => q.trim()).filter((q) => q !== "");
    if (queues.length === 0) throw new UsageError("--queues names no queue; give one or more names separated by commas");
    for (const q of queues) checkQueueName(q, "--queues");
    if (config.workerConcurrency < 1) throw new UsageError("--concurrency must be at least 1");

    const store = await openStore(config.databaseUrl, { poolSize: Math.min(10, config.workerConcurrency + 2) });
    await requireMigrated(store).catch(async (error: Error) => {
      await store.close();
      throw error;
    });
    const broker = await openBroker(config.executor, logger);
    const name = flags.name ?? defaultWorkerName("remote");
    const worker = new Worker({ store, broker, config, logger, name, queues, concurrency: config.workerConcurrency });
    await worker.start();

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          logger.warn({ signal }, "second signal: handing running tries back now");
          void worker.handBackNow();
          return;
        }
        stopping = true;
        logger.info(
          { signal, grace_ms: config.shutdownGraceMs },
          "stopping: no new tries; running tries may finish within the grace period, then are handed back (send the signal again to hand them back now)",
        );
        void (async () => {
          await worker.shutdown(config.shutdownGraceMs);
          await store.close();
          resolve();
        })();
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
  });

  const workers = program.command("workers").description("watch workers and queues");
  withGlobalFlags(
    workers
      .command("list")
      .description("workers with their heartbeats and counters, and how many tries wait in each queue")
      .option("--json", "print JSON"),
  ).action(async (flags: GlobalFlags & { json?: boolean }) => {
    await withStore(flags, async (store, config) => {
      const { workers: list, queues } = await workerOverview(store, config.executor);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ workers: list, queues }, null, 2)}\n`);
        return;
      }
      printRows(list, false, ["name", "state", "host", "pid", "queues", "concurrency", "running", "done", "failed", "last_heartbeat", "heartbeat_age_s", "started_at", "version"]);
      process.stdout.write("\n");
      printRows(queues, false, ["queue", "queued_tries", "waiting_in_broker", "workers"]);
    });
  });
}
