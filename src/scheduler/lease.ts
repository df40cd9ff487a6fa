/**
 * The scheduler lease and epoch fencing. Every scheduling transaction runs through `fenced()`, which
 * reads the lease row under a shared lock before it commits and aborts when this scheduler's epoch is
 * no longer the current one. A new leader must bump the epoch with an exclusive update, which waits
 * for the old leader's transactions that hold that lock and makes every later one fail: a deposed
 * scheduler cannot commit.
 *
 * Standalone takes the lease unconditionally at start; the HA controller (a later issue) elects
 * through the same row.
 */
import type { Kysely, Transaction } from "kysely";
import { sql } from "../store/kysely.js";
import { StaleEpochError } from "../errors.js";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { endSessionsBlocking, sessionIdSql } from "../store/blocking-sessions.js";

export const SCHEDULER_LEASE = "scheduler";

export interface LeaseHandle {
  holder: string;
  epoch: number;
  /** Told when a scheduling transaction ended the DB sessions that blocked it (see fenced()). */
  onBlockersEnded?: (sessions: string[]) => void;
}

/**
 * How long a scheduling transaction waits on another session's row locks before it ends that session.
 * No healthy writer holds a row for seconds; a frozen deposed leader would hold it until resumed.
 */
export const BLOCKED_FOR_MS = 5_000;

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Takes the lease for `holder`, growing the epoch, and returns the new epoch. The epoch grows in the
 * UPDATE itself, so two takeovers at once still end with two different epochs.
 */
export async function takeLease(store: Store, holder: string, durationMs: number): Promise<LeaseHandle> {
  return store.transaction(async (trx) => {
    const now = await dbNow(store, trx);
    const taken = await trx
      .updateTable("scheduler_lease")
      .set((eb) => ({ holder, epoch: eb("epoch", "+", 1), expires_at: now + durationMs, renewed_at: now }))
      .where("name", "=", SCHEDULER_LEASE)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) === 0) {
      await trx
        .insertInto("scheduler_lease")
        .values({ name: SCHEDULER_LEASE, holder, epoch: 1, expires_at: now + durationMs, renewed_at: now })
        .execute();
    }
    // Our UPDATE holds the row's lock until commit, so this reads our own epoch.
    const row = await trx
      .selectFrom("scheduler_lease")
      .select("epoch")
      .where("name", "=", SCHEDULER_LEASE)
      .executeTakeFirstOrThrow();
    return { holder, epoch: Number(row.epoch) };
  });
}

/** Extends the lease while it is still ours; false when another holder took it. */
export async function renewLease(store: Store, lease: LeaseHandle, durationMs: number): Promise<boolean> {
  const result = await store.db
    .updateTable("scheduler_lease")
    .set({ expires_at: sql<number>`${store.nowMs()} + ${durationMs}`, renewed_at: store.nowMs() })
    .where("name", "=", SCHEDULER_LEASE)
    .where("epoch", "=", lease.epoch)
    .where("holder", "=", lease.holder)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Runs `fn` in a write transaction that commits only while `lease` is the current epoch. The epoch is
 * checked at the start (to stop early) and again at the end under a shared lock held until commit.
 * Taking that lock last means a transaction stuck on another session's row locks does not hold the
 * lease row, so it never keeps the controller from renewing the lease; after BLOCKED_FOR_MS it ends
 * the sessions that block it.
 */
export async function fenced<T>(store: Store, lease: LeaseHandle, fn: (trx: Db) => Promise<T>): Promise<T> {
  return store.transaction(async (trx) => {
    // One round trip for the early check and the session id the blocker check needs.
    const { rows } = await sql<{ epoch: number; session: number | null }>`select epoch, ${sessionIdSql(store)} as session from scheduler_lease where name = ${SCHEDULER_LEASE}`.execute(trx);
    const early = rows[0] ? Number(rows[0].epoch) : null;
    if (early !== lease.epoch) throw new StaleEpochError(lease.epoch, early);
    const session = rows[0]!.session;
    const result = await endingBlockersAfter(store, session === null ? null : String(session), lease, () => fn(trx));
    const epoch = await readEpochShared(store, trx);
    if (epoch !== lease.epoch) throw new StaleEpochError(lease.epoch, epoch);
    return result;
  });
}

/** Runs `work`; if it is still running after BLOCKED_FOR_MS, ends the sessions that block DB session `session`. */
async function endingBlockersAfter<T>(store: Store, session: string | null, lease: LeaseHandle, work: () => Promise<T>): Promise<T> {
  if (session === null) return work();
  const timer = setTimeout(() => {
    endSessionsBlocking(store, session).then(
      (ended) => ended.length > 0 && lease.onBlockersEnded?.(ended),
      () => undefined, // a failed look is tried again by the next pass, which will be blocked again
    );
  }, BLOCKED_FOR_MS);
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}

async function readEpochShared(store: Store, trx: Db): Promise<number | null> {
  const lock = store.name === "postgres" ? sql`for share` : store.name === "mysql" ? sql`lock in share mode` : sql``;
  const result = await sql<{ epoch: number }>`select epoch from scheduler_lease where name = ${SCHEDULER_LEASE} ${lock}`.execute(
    trx,
  );
  const row = result.rows[0];
  return row ? Number(row.epoch) : null;
}

export async function dbNow(store: Store, db: Db = store.db): Promise<number> {
  const row = await db.selectNoFrom(store.nowMs().as("now")).executeTakeFirstOrThrow();
  return Number(row.now);
}
