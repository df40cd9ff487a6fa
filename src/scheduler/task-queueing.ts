/**
 * Picks scheduled task instances for the executor: highest priority weight first, then the earliest
 * logical date, within the executor's free slots and each pool's free slots; marks them queued with
 * their next try number, and builds the requests the runners need.
 */
import type { TryRequest } from "../executor/protocol.js";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import type { DagCache } from "./dag-cache.js";
import { fenced, type LeaseHandle } from "./lease.js";

export interface QueueContext {
  store: Store;
  lease: LeaseHandle;
  cache: DagCache;
  logger: Logger;
}

const warnedPools = new Set<string>();

export async function queueScheduledTasks(ctx: QueueContext, freeSlots: number, now: number): Promise<TryRequest[]> {
  if (freeSlots <= 0) return [];
  const { store } = ctx;
  const candidates = await store.db
    .selectFrom("task_instance as ti")
    .innerJoin("dag_run as r", "r.id", "ti.dag_run_id")
    .select([
      "ti.id",
      "ti.dag_run_id",
      "ti.dag_id",
      "ti.run_id",
      "ti.task_id",
      "ti.map_index",
      "ti.pool",
      "ti.pool_slots",
      "r.logical_date",
      "r.data_interval_start",
      "r.data_interval_end",
      "r.conf",
    ])
    .where("ti.state", "=", "scheduled")
    .orderBy("ti.priority_weight", "desc")
    .orderBy("r.logical_date", "asc")
    .orderBy("ti.id", "asc")
    .limit(Math.max(freeSlots * 4, 64))
    .execute();
  if (candidates.length === 0) return [];

  const poolFree = await freePoolSlots(store);
  const picked = candidates.filter((c) => {
    const free = poolFree.get(c.pool);
    if (free === undefined) {
      if (!warnedPools.has(c.pool)) {
        warnedPools.add(c.pool);
        ctx.logger.warn({ pool: c.pool, dag_id: c.dag_id, task_id: c.task_id }, "task uses a pool that does not exist; it waits until the pool is created");
      }
      return false;
    }
    if (free < c.pool_slots) return false;
    poolFree.set(c.pool, free - c.pool_slots);
    return true;
  }).slice(0, freeSlots);
  if (picked.length === 0) return [];

  const ids = picked.map((c) => c.id);
  const queued = await fenced(store, ctx.lease, async (trx) => {
    await trx
      .updateTable("task_instance")
      .set((eb) => ({ state: "queued", try_number: eb("try_number", "+", 1), queued_at: now, updated_at: now }))
      .where("id", "in", ids)
      .where("state", "=", "scheduled")
      .execute();
    return trx
      .selectFrom("task_instance")
      .select(["id", "try_number"])
      .where("id", "in", ids)
      .where("state", "=", "queued")
      .where("queued_at", "=", now)
      .execute();
  });

  const tryNumbers = new Map(queued.map((q) => [q.id, q.try_number]));
  const dags = await ctx.cache.load(picked.map((c) => c.dag_id));
  const requests: TryRequest[] = [];
  for (const c of picked) {
    const tryNumber = tryNumbers.get(c.id);
    const cached = dags.get(c.dag_id);
    const task = cached?.tasks.get(c.task_id);
    if (tryNumber === undefined || !cached || !task) continue;
    requests.push({
      tiId: c.id,
      dagRunId: c.dag_run_id,
      dagId: c.dag_id,
      taskId: c.task_id,
      runId: c.run_id,
      mapIndex: c.map_index,
      tryNumber,
      maxTries: task.retries,
      retryDelayMs: task.retryDelayMs,
      kind: task.kind,
      command: task.command,
      modulePath: cached.modulePath,
      env: task.env,
      executionTimeoutMs: task.executionTimeoutMs,
      logicalDate: c.logical_date,
      dataIntervalStart: c.data_interval_start,
      dataIntervalEnd: c.data_interval_end,
      params: cached.dag.params,
      conf: JSON.parse(c.conf) as Record<string, unknown>,
    });
  }
  return requests;
}

async function freePoolSlots(store: Store): Promise<Map<string, number>> {
  const used = store.db
    .selectFrom("task_instance")
    .select((eb) => ["pool", eb.fn.sum<number>("pool_slots").as("used")])
    .where("state", "in", ["queued", "running"])
    .groupBy("pool")
    .as("u");
  const rows = await store.db
    .selectFrom("pool as p")
    .leftJoin(used, "u.pool", "p.pool")
    .select(["p.pool", "p.slots", "u.used"])
    .execute();
  return new Map(rows.map((r) => [r.pool, r.slots - Number(r.used ?? 0)]));
}
