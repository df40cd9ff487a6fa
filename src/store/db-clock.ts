/**
 * The metadata DB's clock, read without a query each time. The scheduler decides by it (retries due,
 * cron runs due, timeouts), so its decisions do not move when the lead passes to a node whose clock
 * is off, and they agree with the retry times workers write by the same clock. The offset from this
 * node's clock is measured now and then; between measurements it follows this node's clock.
 */
import { dbNow } from "../scheduler/lease.js";
import type { Store } from "./db.js";

/** How old a measurement may get: drift of a synced clock is well under a millisecond a minute. */
export const DB_CLOCK_SYNC_EVERY_MS = 30_000;

export class DbClock {
  private offsetMs = 0;
  private syncedAt = -Infinity;

  constructor(private readonly store: Store) {}

  /** Measures the offset again when the last measurement is older than `everyMs`. */
  async sync(everyMs = 0): Promise<void> {
    if (performance.now() - this.syncedAt < everyMs) return;
    const before = Date.now();
    const db = await dbNow(this.store);
    const after = Date.now();
    // The DB read its clock somewhere within the round trip: the middle is the best guess.
    this.offsetMs = db - Math.round((before + after) / 2);
    this.syncedAt = performance.now();
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }
}

const clocks = new WeakMap<Store, DbClock>();

/** The DB clock of this store, shared by everything in this process that uses the store. */
export function dbClock(store: Store): DbClock {
  let clock = clocks.get(store);
  if (!clock) clocks.set(store, (clock = new DbClock(store)));
  return clock;
}

/** The DB's time now, by a measurement at most DB_CLOCK_SYNC_EVERY_MS old. */
export async function dbTime(store: Store): Promise<number> {
  const clock = dbClock(store);
  await clock.sync(DB_CLOCK_SYNC_EVERY_MS);
  return clock.now();
}
