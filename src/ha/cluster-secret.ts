/**
 * Node authentication. The first controller of a cluster stores a salt and a verifier of the cluster
 * secret (an HMAC under a key derived with scrypt: the secret itself is never stored or logged). A
 * controller joins only if it derives the same verifier, and it signs every lease it takes with a
 * proof that peers check, so a node that does not know the secret can neither join nor take over.
 */
import crypto from "node:crypto";
import { UsageError } from "../errors.js";
import { dbNow } from "../scheduler/lease.js";
import type { Store } from "../store/db.js";

/** A controller the cluster does not admit (wrong secret, node id in use): it exits with a clear message. */
export class JoinRefusedError extends UsageError {
  override name = "JoinRefusedError";
}

export class ClusterSecretError extends JoinRefusedError {
  override name = "ClusterSecretError";
}

export interface ClusterKey {
  /** The proof a lease row for (holder, epoch) carries. */
  proof(holder: string, epoch: number): string;
  /** Whether a lease row's proof was made with this cluster's secret. */
  verify(holder: string, epoch: number, proof: string | null): boolean;
}

const VERIFIER_MESSAGE = "aloft-ha-cluster-verifier";

/** Checks the secret against the cluster's verifier, creating the cluster on its first node. */
export async function joinCluster(store: Store, cluster: string, nodeId: string, secret: string): Promise<ClusterKey> {
  let row = await store.db.selectFrom("ha_cluster").select(["salt", "verifier"]).where("name", "=", cluster).executeTakeFirst();
  if (!row) {
    const salt = crypto.randomBytes(16).toString("hex");
    const verifier = hmac(deriveKey(secret, salt), VERIFIER_MESSAGE);
    try {
      await store.db.insertInto("ha_cluster").values({ name: cluster, salt, verifier, created_at: await dbNow(store) }).execute();
    } catch {
      // Another node created the cluster at the same moment: check against its row.
    }
    row = await store.db.selectFrom("ha_cluster").select(["salt", "verifier"]).where("name", "=", cluster).executeTakeFirstOrThrow();
  }
  const key = deriveKey(secret, row.salt);
  if (!sameText(hmac(key, VERIFIER_MESSAGE), row.verifier)) {
    throw new ClusterSecretError(
      `node '${nodeId}' cannot join HA cluster '${cluster}': its cluster secret differs from the one the cluster was created with. ` +
        "Give every controller the same ha_secret (ALOFT_HA_SECRET; when unset, the secret_key is used); this node was not admitted (the refusal is recorded in the cluster's events) and the cluster is unchanged.",
    );
  }
  return {
    proof: (holder, epoch) => hmac(key, `${cluster}|${holder}|${epoch}`),
    verify: (holder, epoch, proof) => proof !== null && sameText(hmac(key, `${cluster}|${holder}|${epoch}`), proof),
  };
}

function deriveKey(secret: string, salt: string): Buffer {
  return crypto.scryptSync(secret, `aloft-ha:${salt}`, 32);
}

function hmac(key: Buffer, message: string): string {
  return crypto.createHmac("sha256", key).update(message).digest("hex");
}

function sameText(a: string, b: string): boolean {
  return a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
