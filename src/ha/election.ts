/**
 * The lease row of an HA cluster, read and changed only by conditional updates and timed only by the
 * database's clock. Taking the lease grows the epoch in the same UPDATE that checks the epoch it saw,
 * so of several nodes taking over at once exactly one succeeds; the epoch is what fences the loser's
 * child (see scheduler/lease.ts).
 */
import { sql } from "../store/kysely.js";
import { dbNow } from "../scheduler/lease.js";
import type { Store } from "../store/db.js";

export interface LeaseView {
  holder: string;
  epoch: number;
  expiresAt: number;
  renewedAt: number;
  session: string | null;
  priority: number | null;
  handoverTo: string | null;
  proof: string | null;
}

export interface Candidate {
  node: string;
  priority: number;
  session: string | null;
  proof(epoch: number): string;
}

/** The lease (null when no node ever took it) and the DB's clock when it was read. */
export async function readLease(store: Store, cluster: string): Promise<{ lease: LeaseView | null; now: number }> {
  const row = await store.db.selectFrom("scheduler_lease").selectAll().select(store.nowMs().as("now")).where("name", "=", cluster).executeTakeFirst();
  if (!row) return { lease: null, now: await dbNow(store) };
  return {
    now: Number(row.now),
    lease: {
      holder: row.holder,
      epoch: Number(row.epoch),
      expiresAt: Number(row.expires_at),
      renewedAt: Number(row.renewed_at),
      session: row.holder_session,
      priority: row.holder_priority,
      handoverTo: row.handover_to,
      proof: row.proof,
    },
  };
}

/**
 * Takes the lease seen as `seen` (null: never taken) for `candidate`; returns the new epoch, or null
 * when another node changed the lease first.
 */
export async function takeLease(store: Store, cluster: string, candidate: Candidate, seen: LeaseView | null, leaseMs: number): Promise<number | null> {
  const fields = { holder: candidate.node, holder_session: candidate.session, holder_priority: candidate.priority, handover_to: null };
  if (seen === null) {
    try {
      await store.db
        .insertInto("scheduler_lease")
        .values({ name: cluster, ...fields, epoch: 1, expires_at: sql<number>`${store.nowMs()} + ${leaseMs}`, renewed_at: store.nowMs(), proof: candidate.proof(1) })
        .execute();
      return 1;
    } catch {
      return null; // another node inserted it first
    }
  }
  const epoch = seen.epoch + 1;
  const result = await store.db
    .updateTable("scheduler_lease")
    .set({ ...fields, epoch, expires_at: sql<number>`${store.nowMs()} + ${leaseMs}`, renewed_at: store.nowMs(), proof: candidate.proof(epoch) })
    .where("name", "=", cluster)
    .where("epoch", "=", seen.epoch)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1 ? epoch : null;
}

/** Extends the lease while (holder, epoch) still hold it; also says which node asked for a handover. */
export async function renewLease(
  store: Store,
  cluster: string,
  holder: string,
  epoch: number,
  leaseMs: number,
): Promise<{ held: boolean; handoverTo: string | null }> {
  const result = await store.db
    .updateTable("scheduler_lease")
    .set({ expires_at: sql<number>`${store.nowMs()} + ${leaseMs}`, renewed_at: store.nowMs() })
    .where("name", "=", cluster)
    .where("holder", "=", holder)
    .where("epoch", "=", epoch)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return { held: false, handoverTo: null };
  const row = await store.db.selectFrom("scheduler_lease").select("handover_to").where("name", "=", cluster).where("epoch", "=", epoch).executeTakeFirst();
  return { held: row !== undefined, handoverTo: row?.handover_to ?? null };
}

/** Ends the lease now (its holder's child has stopped), so that a standby takes over without waiting for expiry. */
export async function releaseLease(store: Store, cluster: string, holder: string, epoch: number): Promise<void> {
  await store.db
    .updateTable("scheduler_lease")
    .set({ expires_at: store.nowMs() })
    .where("name", "=", cluster)
    .where("holder", "=", holder)
    .where("epoch", "=", epoch)
    .execute();
}

/** Asks the holder of `epoch` to hand over to `node` once its child has stopped. */
export async function requestHandover(store: Store, cluster: string, node: string, epoch: number): Promise<boolean> {
  const result = await store.db
    .updateTable("scheduler_lease")
    .set({ handover_to: node })
    .where("name", "=", cluster)
    .where("epoch", "=", epoch)
    .where((eb) => eb.or([eb("handover_to", "is", null), eb("handover_to", "=", node)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
