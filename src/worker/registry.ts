/**
 * Worker rows in the DB: a worker registers when it starts, heartbeats in DB time while it lives, and
 * says when it stops. Schedulers judge liveness by the heartbeat alone (design invariant 5: the DB's
 * clock, not a node's), so a worker on a machine that vanished is noticed like one that was killed.
 */
import os from "node:os";
import { sql } from "../store/kysely.js";
import { UsageError } from "../errors.js";
import type { Store } from "../store/db.js";
import type { WorkerKind } from "../store/schema.js";
import { VERSION } from "../version.js";

export interface WorkerIdentity {
  name: string;
  kind: WorkerKind;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
}

/** Counters a worker reports with each heartbeat. */
export interface WorkerStats {
  running: number;
  triesDone: number;
  triesFailed: number;
}

export function defaultWorkerName(kind: WorkerKind): string {
  return `${kind === "local" ? "local" : "worker"}@${os.hostname()}:${process.pid}`;
}

/**
 * Registers the worker. A name still heartbeating within `timeoutMs` belongs to a live worker: that is
 * an error (two workers must not share a name, their tries would mix). A dead or stopped one is taken over.
 */
export async function registerWorker(store: Store, identity: WorkerIdentity, timeoutMs: number): Promise<void> {
  await store.transaction(async (trx) => {
    const now = Number((await trx.selectNoFrom(store.nowMs().as("now")).executeTakeFirstOrThrow()).now);
    const existing = await trx.selectFrom("worker").selectAll().where("name", "=", identity.name).$if(store.supportsRowLocks, (q) => q.forUpdate()).executeTakeFirst();
    const row = {
      kind: identity.kind,
      hostname: identity.hostname,
      pid: identity.pid,
      queues: JSON.stringify(identity.queues),
      concurrency: identity.concurrency,
      state: "running" as const,
      version: VERSION,
      started_at: now,
      last_heartbeat: now,
      stopped_at: null,
      running: 0,
      tries_done: 0,
      tries_failed: 0,
      reason: null,
    };
    if (!existing) {
      await trx.insertInto("worker").values({ name: identity.name, ...row }).execute();
      return;
    }
    const alive = (existing.state === "running" || existing.state === "stopping") && Number(existing.last_heartbeat) > now - timeoutMs;
    if (alive && identity.kind === "remote") {
      throw new UsageError(
        `a worker named '${identity.name}' is already running on ${existing.hostname} (pid ${existing.pid}, ` +
          `last heartbeat ${Math.round((now - Number(existing.last_heartbeat)) / 1000)} s ago); give this one another --name`,
      );
    }
    await trx.updateTable("worker").set(row).where("name", "=", identity.name).execute();
  });
}

/**
 * Records a heartbeat; false when the row is no longer running or stopping: a scheduler gave up on
 * this worker (its heartbeats did not reach the DB in time) and settled its tries, or the row is gone.
 */
export async function heartbeat(store: Store, name: string, stats: WorkerStats): Promise<boolean> {
  const result = await store.db
    .updateTable("worker")
    .set({ last_heartbeat: store.nowMs(), running: stats.running, tries_done: stats.triesDone, tries_failed: stats.triesFailed })
    .where("name", "=", name)
    .where("state", "in", ["running", "stopping"])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setWorkerState(store: Store, name: string, state: "stopping" | "stopped" | "running", reason: string | null = null): Promise<void> {
  await store.db
    .updateTable("worker")
    .set({ state, reason, ...(state === "stopped" ? { stopped_at: store.nowMs(), running: 0 } : {}) })
    .where("name", "=", name)
    .execute();
}

/** Workers that stopped heartbeating more than `timeoutMs` ago (DB time) but are not yet marked dead. */
export async function silentWorkers(store: Store, timeoutMs: number) {
  return store.db
    .selectFrom("worker")
    .select(["name", "hostname", "pid", "last_heartbeat"])
    .where("state", "in", ["running", "stopping"])
    .where("last_heartbeat", "<", sql<number>`${store.nowMs()} - ${timeoutMs}`)
    .execute();
}

/** Marks a worker dead, once: false when someone else did (or it came back meanwhile). */
export async function markWorkerDead(store: Store, name: string, lastHeartbeat: number, reason: string): Promise<boolean> {
  const result = await store.db
    .updateTable("worker")
    .set({ state: "dead", stopped_at: store.nowMs(), reason })
    .where("name", "=", name)
    .where("last_heartbeat", "=", lastHeartbeat)
    .where("state", "in", ["running", "stopping"])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
