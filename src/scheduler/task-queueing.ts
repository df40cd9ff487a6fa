/**
 * Picks scheduled task instances for the executor: highest priority weight first, then the earliest
 * logical date, within the executor's free slots and each pool's free slots; marks them queued with
 * their next try number (inside the scheduler's fenced transaction), then builds the requests the
 * runners need (after it).
 */
import type { Kysely, Transaction } from "kysely";
import type { TryRequest } from "../executor/protocol.js";
import type { Logger } from "../logging.js";
import type { Database } from "../store/schema.js";
import type { CachedDag, RunVersion } from "./dag-cache.js";
import { structureRequestFields } from "./structure.js";

type Db = Kysely<Database> | Transaction<Database>;

export interface QueuedTi {
  id: number;
  dag_run_id: number;
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  max_tries: number;
  queue: string;
  logical_date: number;
  data_interval_start: number;
  data_interval_end: number;
  conf: string;
  /** The DAG version the run started with. */
  dag_version_id: number | null;
}

const warnedPools = new Set<string>();

/**
 * Each DAG's maxActiveTasks (task instances queued or running at once across its runs), by DAG id,
 * read through `db`: the queueing transaction (on SQLite another connection would wait for it forever).
 */
export type MaxActiveTasks = (dagIds: string[], db: Db) => Promise<Map<string, number>>;

/**
 * Marks the task instances to run next as queued, in `trx`; returns them with their new try number.
 * @param maxActiveTasks the DAGs' limits; without it, DAGs are not limited.
 */
export async function queueScheduledTasks(
  trx: Db,
  freeSlots: number,
  now: number,
  logger: Logger,
  maxActiveTasks?: MaxActiveTasks,
): Promise<QueuedTi[]> {
  if (freeSlots <= 0) return [];
  const candidates = await trx
    .selectFrom("task_instance as ti")
    .innerJoin("dag_run as r", "r.id", "ti.dag_run_id")
    .select([
      "ti.id",
      "ti.dag_run_id",
      "ti.dag_id",
      "ti.run_id",
      "ti.task_id",
      "ti.map_index",
      "ti.try_number",
      "ti.max_tries",
      "ti.queue",
      "ti.pool",
      "ti.pool_slots",
      "r.logical_date",
      "r.data_interval_start",
      "r.data_interval_end",
      "r.conf",
      "r.dag_version_id",
    ])
    .where("ti.state", "=", "scheduled")
    .orderBy("ti.priority_weight", "desc")
    .orderBy("r.logical_date", "asc")
    .orderBy("ti.id", "asc")
    .limit(Math.max(freeSlots * 4, 64))
    .execute();
  if (candidates.length === 0) return [];

  const poolFree = await freePoolSlots(trx);
  const dagFree = maxActiveTasks ? await freeDagSlots(trx, candidates.map((c) => c.dag_id), maxActiveTasks) : undefined;
  const picked = candidates
    .filter((c) => {
      const dagRoom = dagFree?.get(c.dag_id);
      if (dagRoom !== undefined && dagRoom <= 0) return false;
      const free = poolFree.get(c.pool);
      if (free === undefined) {
        if (!warnedPools.has(c.pool)) {
          warnedPools.add(c.pool);
          logger.warn({ pool: c.pool, dag_id: c.dag_id, task_id: c.task_id }, "task uses a pool that does not exist; it waits until the pool is created");
        }
        return false;
      }
      if (free < c.pool_slots) return false;
      poolFree.set(c.pool, free - c.pool_slots);
      if (dagRoom !== undefined) dagFree!.set(c.dag_id, dagRoom - 1);
      return true;
    })
    .slice(0, freeSlots);
  if (picked.length === 0) return [];

  const ids = picked.map((c) => c.id);
  const result = await trx
    .updateTable("task_instance")
    .set((eb) => ({ state: "queued", try_number: eb("try_number", "+", 1), queued_at: now, updated_at: now }))
    .where("id", "in", ids)
    .where("state", "=", "scheduled")
    .executeTakeFirst();
  let queued = picked;
  if (Number(result.numUpdatedRows) !== picked.length) {
    // Someone changed some of them since the select: keep the ones this update moved.
    const moved = await trx.selectFrom("task_instance").select("id").where("id", "in", ids).where("queued_at", "=", now).execute();
    const movedIds = new Set(moved.map((m) => m.id));
    queued = picked.filter((c) => movedIds.has(c.id));
  }
  return queued.map(({ pool: _pool, pool_slots: _slots, ...c }) => ({ ...c, try_number: c.try_number + 1 }));
}

/**
 * What a runner needs for each queued try, from the DAG version of its run; task instances whose DAG
 * or task is gone are left out.
 */
export function tryRequests(queued: QueuedTi[], dagOf: (run: RunVersion) => CachedDag | undefined): TryRequest[] {
  const requests: TryRequest[] = [];
  for (const ti of queued) {
    const cached = dagOf({ dagId: ti.dag_id, versionId: ti.dag_version_id });
    const task = cached?.tasks.get(ti.task_id);
    if (!cached || !task) continue;
    requests.push({
      tiId: ti.id,
      dagRunId: ti.dag_run_id,
      dagId: ti.dag_id,
      taskId: ti.task_id,
      runId: ti.run_id,
      mapIndex: ti.map_index,
      tryNumber: ti.try_number,
      maxTries: ti.max_tries,
      retryDelayMs: task.retryDelayMs,
      retryExponentialBackoff: task.retryExponentialBackoff ?? false,
      maxRetryDelayMs: task.maxRetryDelayMs ?? null,
      queue: ti.queue,
      kind: task.kind,
      command: task.command,
      xcomPush: task.xcomPush,
      dagVersionId: cached.versionId,
      moduleHash: cached.moduleHash,
      env: task.env,
      ...(task.path ? { path: task.path } : {}),
      ...(task.preamble ? { preamble: task.preamble } : {}),
      executionTimeoutMs: task.executionTimeoutMs,
      logicalDate: ti.logical_date,
      dataIntervalStart: ti.data_interval_start,
      dataIntervalEnd: ti.data_interval_end,
      params: cached.dag.params,
      conf: JSON.parse(ti.conf) as Record<string, unknown>,
      ...(task.outlets && task.outlets.length > 0 ? { outlets: task.outlets } : {}),
      ...structureRequestFields(task),
    });
  }
  return requests;
}

/** How many more task instances each DAG may have queued or running (its maxActiveTasks minus those). */
async function freeDagSlots(trx: Db, dagIds: string[], maxActiveTasks: MaxActiveTasks): Promise<Map<string, number>> {
  const ids = [...new Set(dagIds)];
  const limits = await maxActiveTasks(ids, trx);
  const rows = await trx
    .selectFrom("task_instance")
    .select((eb) => ["dag_id", eb.fn.countAll<number>().as("active")])
    .where("dag_id", "in", ids)
    .where("state", "in", ["queued", "running"])
    .groupBy("dag_id")
    .execute();
  const active = new Map(rows.map((r) => [r.dag_id, Number(r.active)]));
  return new Map(ids.map((id) => [id, (limits.get(id) ?? Infinity) - (active.get(id) ?? 0)]));
}

async function freePoolSlots(trx: Db): Promise<Map<string, number>> {
  const used = trx
    .selectFrom("task_instance")
    .select((eb) => ["pool", eb.fn.sum<number>("pool_slots").as("used")])
    .where("state", "in", ["queued", "running"])
    .groupBy("pool")
    .as("u");
  const rows = await trx
    .selectFrom("pool as p")
    .leftJoin(used, "u.pool", "p.pool")
    .select(["p.pool", "p.slots", "u.used"])
    .execute();
  return new Map(rows.map((r) => [r.pool, r.slots - Number(r.used ?? 0)]));
}
