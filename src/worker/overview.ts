/**
 * What `aloft workers list` and `GET /api/v2/workers` show: the workers with their heartbeats and
 * counters, and how many tries wait in each queue (in the DB, and in the broker when there is one).
 */
import { DEFAULT_QUEUE, isBrokerUrl, openBroker } from "../broker/broker.js";
import { silentLogger } from "../logging.js";
import type { Store } from "../store/db.js";

const iso = (ms: number) => new Date(ms).toISOString();

/** `executor`: the configured executor, `local` or the broker URL whose queues are counted. */
export async function workerOverview(store: Store, executor: string) {
  const now = Number((await store.db.selectNoFrom(store.nowMs().as("now")).executeTakeFirstOrThrow()).now);
  const rows = (await store.db.selectFrom("worker").selectAll().orderBy("state").orderBy("name").execute()).map((w) => ({
    ...w,
    queueList: JSON.parse(w.queues) as string[],
  }));
  const workers = rows.map((w) => ({
    name: w.name,
    state: w.state,
    kind: w.kind,
    host: w.hostname,
    pid: w.pid,
    queues: w.queueList.join(","),
    concurrency: w.concurrency,
    running: w.running,
    done: w.tries_done,
    failed: w.tries_failed,
    last_heartbeat: iso(Number(w.last_heartbeat)),
    heartbeat_age_s: Math.max(0, Math.round((now - Number(w.last_heartbeat)) / 1000)),
    started_at: iso(Number(w.started_at)),
    version: w.version,
    ...(w.reason ? { reason: w.reason } : {}),
  }));
  const queued = await store.db
    .selectFrom("task_instance")
    .select((eb) => ["queue", eb.fn.countAll<number>().as("n")])
    .where("state", "=", "queued")
    .groupBy("queue")
    .execute();
  const names = new Set<string>([DEFAULT_QUEUE, ...queued.map((q) => q.queue), ...rows.filter((w) => w.kind === "remote").flatMap((w) => w.queueList)]);
  const waiting = await brokerDepths(executor, [...names]);
  const queues = [...names].sort().map((queue) => ({
    queue,
    queued_tries: Number(queued.find((q) => q.queue === queue)?.n ?? 0),
    waiting_in_broker: waiting instanceof Map ? (waiting.get(queue) ?? 0) : waiting,
    workers: rows.filter((w) => w.kind === "remote" && w.state === "running" && w.queueList.includes(queue)).length,
  }));
  return { workers, queues };
}

/** Messages waiting per queue in the configured broker; a short text when there is none or it cannot be reached. */
async function brokerDepths(executor: string, queues: string[]): Promise<Map<string, number> | string> {
  if (!isBrokerUrl(executor)) return "n/a (local executor)";
  const broker = await openBroker(executor, silentLogger);
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out after 5 s")), 5_000).unref());
    return await Promise.race([broker.depths(queues), timeout]);
  } catch (error) {
    return `unreachable (${(error as Error).message})`;
  } finally {
    await broker.close().catch(() => undefined);
  }
}
