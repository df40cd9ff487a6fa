/**
 * Pools: named sets of slots that tasks take while queued or running (a task takes `poolSlots` of
 * its pool). `default_pool` (128 slots) always exists; every change is written to the event log.
 */
import { NotFoundError, UsageError } from "../errors.js";
import type { Store } from "../store/db.js";
import { logEvent, type Actor, type Db } from "./context.js";

export const DEFAULT_POOL = "default_pool";

export interface PoolStats {
  pool: string;
  slots: number;
  /** Slots taken by running tries. */
  used: number;
  /** Slots taken by queued tries. */
  queued: number;
  /** slots − used − queued: what tasks may still take. */
  open: number;
  description: string | null;
}

export async function listPools(db: Db, name?: string): Promise<PoolStats[]> {
  const pools = await db.selectFrom("pool").selectAll().$if(name !== undefined, (q) => q.where("pool", "=", name!)).orderBy("pool").execute();
  const usage = await db
    .selectFrom("task_instance")
    .select((eb) => ["pool", "state", eb.fn.sum<number>("pool_slots").as("slots")])
    .where("state", "in", ["queued", "running"])
    .$if(name !== undefined, (q) => q.where("pool", "=", name!))
    .groupBy(["pool", "state"])
    .execute();
  const taken = (pool: string, state: string) => Number(usage.find((u) => u.pool === pool && u.state === state)?.slots ?? 0);
  return pools.map((p) => {
    const used = taken(p.pool, "running");
    const queued = taken(p.pool, "queued");
    return { pool: p.pool, slots: p.slots, used, queued, open: p.slots - used - queued, description: p.description };
  });
}

export async function getPool(db: Db, name: string): Promise<PoolStats> {
  const [pool] = await listPools(db, name);
  if (!pool) throw new NotFoundError(`pool '${name}' does not exist: see 'aloft pools list'`);
  return pool;
}

/** Creates the pool or changes its slots (and description, when given; null removes it). */
export async function setPool(store: Store, actor: Actor, name: string, slots: number, description?: string | null): Promise<PoolStats> {
  if (name.trim() === "" || name.length > 250) throw new UsageError(`pool name must be 1 to 250 characters, got '${name}'`);
  if (!Number.isSafeInteger(slots) || slots < 0) throw new UsageError(`pool '${name}': slots must be an integer >= 0, got '${slots}'`);
  return store.transaction(async (trx) => {
    const existing = await trx.selectFrom("pool").select("pool").where("pool", "=", name).executeTakeFirst();
    if (existing) {
      await trx
        .updateTable("pool")
        .set({ slots, ...(description !== undefined ? { description } : {}) })
        .where("pool", "=", name)
        .execute();
    } else {
      await trx.insertInto("pool").values({ pool: name, slots, description: description ?? null }).execute();
    }
    await logEvent(trx, actor, existing ? "pool_update" : "pool_create", {}, { pool: name, slots, description: description ?? null });
    return getPool(trx, name);
  });
}

/** Deletes a pool; not default_pool, nor a pool whose slots queued or running tries hold. */
export async function deletePool(store: Store, actor: Actor, name: string): Promise<void> {
  if (name === DEFAULT_POOL) throw new UsageError(`${DEFAULT_POOL} cannot be deleted; change its slots with 'aloft pools set ${DEFAULT_POOL} N'`);
  await store.transaction(async (trx) => {
    const pool = await getPool(trx, name);
    if (pool.used + pool.queued > 0) {
      throw new UsageError(
        `pool '${name}' is in use by queued or running tries (${pool.used} running and ${pool.queued} queued slots); ` +
          "delete it once they have finished, or set its slots to 0 to stop new tries",
      );
    }
    await trx.deleteFrom("pool").where("pool", "=", name).execute();
    await logEvent(trx, actor, "pool_delete", {}, { pool: name });
  });
}

