/**
 * The failover controller of one node: joins its cluster's election in the metadata DB, and while it
 * holds the lease supervises the child (Aloft's scheduling loop, or any singleton command).
 *
 * Rules that keep two children from ever running at once:
 * - Only the holder of the current epoch runs a child, and it stops the child before its lease can
 *   expire: if no renewal succeeded for `lease - margin` (local monotonic time since the renewal was
 *   sent, which is never later than the DB's expiry), the child is killed.
 * - Losing the DB connection kills the child at once (the DB frees the leader's advisory lock when the
 *   connection ends, which is how standbys notice a crashed leader before its lease expires).
 * - A handover (preemption, shutdown) stops the child first and releases the lease after.
 * - Aloft's child is also fenced by its epoch: any transaction it tries after a takeover fails.
 */
import os from "node:os";
import { performance } from "node:perf_hooks";
import type { Logger } from "../logging.js";
import type { ChildHealth, HaRole } from "../store/schema.js";
import { ClusterSecretError, JoinRefusedError, joinCluster, type ClusterKey } from "./cluster-secret.js";
import { readLease, releaseLease, renewLease, requestHandover, takeLease, type LeaseView } from "./election.js";
import type { Hooks, HookEvent } from "./hooks.js";
import { freshNode, higherPriorityStandby, recordEvent, saveNode, type NodeIdentity, type TransitionEvent } from "./registry.js";
import { openHaSession, type HaSession } from "./session.js";
import { Supervisor, type ChildSpec } from "./supervisor.js";
import { processExists } from "../util/process-exists.js";

export interface ControllerOptions {
  databaseUrl: string;
  cluster: string;
  nodeId: string;
  priority: number;
  noPreempt: boolean;
  secret: string;
  leaseMs: number;
  renewMs: number;
  pollMs: number;
  preemptDelayMs: number;
  childTimeoutMs: number;
  childStartupTimeoutMs: number;
  stopTimeoutMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  child: ChildSpec;
  hooks: Hooks;
  logger: Logger;
  /** Receives the times of the scheduling passes Aloft's child reports (for the node's /metrics). */
  onChildPasses?: (durationsMs: number[]) => void;
}

const now = () => performance.now();
/** A takeover still waiting for the lease row after this long is blocked by a deposed leader's transaction. */
const TAKEOVER_BLOCKED_MS = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Controller {
  private role: HaRole = "standby";
  private epoch: number | null = null;
  private session: HaSession | null = null;
  private key: ClusterKey | null = null;
  private holdsLock = false;
  /** Local time the last successful renewal (or the takeover) was sent. */
  private renewedAt = 0;
  /** Since when this node has been a standby of higher priority than the leader (for preemption). */
  private eligibleSince: number | null = null;
  private handoverAsked = false;
  private expiredSeenAt: number | null = null;
  /** After giving up, this node leaves the lead to others until then. */
  private sitOutUntil = 0;
  private stopping = false;
  /** Closing the session on purpose: its end is not a lost connection. */
  private closing = false;
  /** A graceful stop of the child in progress (handover or shutdown); renewals go on meanwhile. */
  private stepDown: Promise<void> | null = null;
  /** Transitions not yet written, with the local time they happened at. */
  private pendingEvents: Array<{ event: TransitionEvent; at: number }> = [];
  private nodeSavedAt = 0;
  private readonly identity: NodeIdentity;
  private readonly supervisor: Supervisor;
  private deadlineTimer?: NodeJS.Timeout;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControllerOptions) {
    this.identity = {
      cluster: options.cluster,
      nodeId: options.nodeId,
      host: os.hostname(),
      pid: process.pid,
      priority: options.priority,
      noPreempt: options.noPreempt,
    };
    this.supervisor = new Supervisor(options.child, {
      childTimeoutMs: options.childTimeoutMs,
      childStartupTimeoutMs: options.childStartupTimeoutMs,
      stopTimeoutMs: options.stopTimeoutMs,
      maxRestarts: options.maxRestarts,
      restartWindowMs: options.restartWindowMs,
      logger: options.logger,
      mayStart: () => this.role === "active" && !this.stopping && this.stepDown === null && now() < this.deadline(),
    });
    this.supervisor.on("started", (pid) => {
      options.logger.info({ pid, epoch: this.epoch }, "child started");
      this.nodeSavedAt = 0;
    });
    this.supervisor.on("exited", (pid, code, signal) => {
      options.logger.info({ pid, code, signal }, "child exited");
      this.nodeSavedAt = 0;
    });
    this.supervisor.on("health", () => (this.nodeSavedAt = 0));
    this.supervisor.on("fenced", () => void this.loseLeadership("the child found its epoch stale: another node leads"));
    this.supervisor.on("gaveUp", (reason) => void this.giveUp(reason));
    if (options.onChildPasses) this.supervisor.on("passes", options.onChildPasses);
  }

  /** This node's role, and the epoch it leads under (null unless active). */
  get state(): { role: HaRole; epoch: number | null } {
    return { role: this.role, epoch: this.epoch };
  }

  /** Joins the cluster (throws JoinRefusedError when the cluster refuses this node), then runs until `stop()`. */
  async start(): Promise<void> {
    await this.connect();
    // Independent of the loop, which may be stuck in a query the DB never answers.
    this.deadlineTimer = setInterval(() => {
      if (this.role === "active" && now() >= this.deadline()) {
        void this.loseLeadership(
          `no lease renewal succeeded for ${Math.round(now() - this.renewedAt)} ms: the child is stopped before the lease (ha_lease_ms ${this.options.leaseMs}) can expire`,
        );
      }
    }, Math.max(20, Math.min(100, this.options.renewMs / 4)));
    this.loopDone = this.loop();
  }

  /** Stops the child (gracefully), releases the lease so a standby takes over at once, and leaves. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { logger } = this.options;
    const wasActive = this.role === "active";
    if (wasActive) {
      logger.info({ epoch: this.epoch }, "stopping: the child stops first, then the lease is released");
      await (this.stepDown ?? this.handOver("this controller is stopping", null));
    }
    await this.loopDone;
    clearInterval(this.deadlineTimer);
    await this.supervisor.stop(false);
    // The session may be lost (set to null) during any await: hold on to the one checked.
    const session = this.session;
    if (session) {
      if (!wasActive) await this.note("standby", "stopped", "the controller stopped", null);
      await this.flush().catch(() => undefined);
      await saveNode(session.store, this.identity, { role: "stopped", childPid: null, childHealth: null }).catch(() => undefined);
      this.closing = true;
      await session.close().catch(() => undefined);
    }
    await this.options.hooks.drain();
  }

  /** How long one round of DB calls may take before the connection is given up as hung. */
  private tickTimeout(): number {
    return Math.max(2_000, this.options.leaseMs / 2);
  }

  private deadline(): number {
    const margin = Math.min(this.options.leaseMs / 2, Math.max(this.options.leaseMs / 5, this.options.renewMs * 2));
    return this.renewedAt + this.options.leaseMs - margin;
  }

  private async connect(): Promise<void> {
    const { logger, cluster, nodeId } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        const session = await openHaSession(this.options.databaseUrl, cluster, this.tickTimeout() - 500);
        session.onLost((error) => this.onSessionLost(session, error));
        this.key ??= await this.join(session);
        this.session = session;
        this.holdsLock = false;
        if (attempt > 1) logger.info({ attempts: attempt }, "connected to the metadata DB again");
        return;
      } catch (error) {
        if (error instanceof JoinRefusedError || this.stopping) throw error;
        logger.warn({ err: (error as Error).message, attempt, node_id: nodeId }, "cannot reach the metadata DB; trying again");
        await sleep(Math.min(5_000, this.options.pollMs * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  private async join(session: HaSession): Promise<ClusterKey> {
    const { cluster, nodeId, logger } = this.options;
    let key: ClusterKey;
    try {
      key = await joinCluster(session.store, cluster, nodeId, this.options.secret);
    } catch (error) {
      if (error instanceof ClusterSecretError) {
        await recordEvent(session.store, { cluster, nodeId, from: "joining", to: "refused", reason: "wrong cluster secret", epoch: null }).catch(() => undefined);
        await session.close().catch(() => undefined);
      }
      throw error;
    }
    // The same node id on a live controller would make two nodes act as one. A row left by this node's
    // previous process (restarted by systemd a moment after a crash) is not a clash.
    const clash = await freshNode(session.store, cluster, nodeId, Math.max(3 * this.options.renewMs, 3 * this.options.pollMs, 3_000));
    const other = clash
      ? await session.store.db.selectFrom("ha_node").select(["host", "pid", "role"]).where("cluster", "=", cluster).where("node_id", "=", nodeId).executeTakeFirst()
      : undefined;
    const sameHost = other?.host === os.hostname();
    if (other && other.role !== "stopped" && !(sameHost && (other.pid === process.pid || !processExists(other.pid)))) {
      await session.close().catch(() => undefined);
      throw new JoinRefusedError(
        `node id '${nodeId}' is already used by a live controller of cluster '${cluster}' (host ${other.host}, pid ${other.pid}); ` +
          "give each node its own --node-id (ha_node_id)",
      );
    }
    await saveNode(session.store, this.identity, { role: "standby", childPid: null, childHealth: null }, true);
    await recordEvent(session.store, { cluster, nodeId, from: "stopped", to: "standby", reason: `joined with priority ${this.options.priority}`, epoch: null });
    logger.info({ node_id: nodeId, cluster, priority: this.options.priority, no_preempt: this.options.noPreempt }, "standby");
    return key;
  }

  private onSessionLost(session: HaSession, error: Error): void {
    if (this.session !== session || this.closing) return;
    this.session = null;
    this.holdsLock = false;
    this.options.logger.warn({ err: error.message }, "lost the connection to the metadata DB");
    void this.loseLeadership(`lost the connection to the metadata DB (${error.message})`);
  }

  private async loop(): Promise<void> {
    const { logger } = this.options;
    while (!this.stopping || this.role === "active") {
      const started = now();
      try {
        if (!this.session) await this.connect();
        const session = this.session!;
        const tickTimeout = this.tickTimeout();
        await withTimeout(this.role === "active" ? this.leaderTick(session) : this.standbyTick(session), tickTimeout, () => {
          logger.warn({ timeout_ms: tickTimeout }, "the metadata DB did not answer in time; reconnecting");
          session.abandon();
        });
        await this.flush();
      } catch (error) {
        logger.warn({ err: (error as Error).message, role: this.role }, "HA check failed; trying again");
      }
      if (this.stopping && this.role !== "active") break;
      const every = this.role === "active" ? this.options.renewMs : this.options.pollMs;
      await sleep(Math.max(0, every - (now() - started)));
    }
  }

  private async leaderTick(session: HaSession): Promise<void> {
    const { cluster, nodeId, leaseMs } = this.options;
    const epoch = this.epoch!;
    const sentAt = now();
    const renewed = await renewLease(session.store, cluster, nodeId, epoch, leaseMs);
    if (this.epoch !== epoch || this.role !== "active") return;
    if (!renewed.held) {
      const { lease } = await readLease(session.store, cluster);
      await this.loseLeadership(lease ? `node '${lease.holder}' holds the lease now (epoch ${lease.epoch})` : "the lease row is gone");
      return;
    }
    this.renewedAt = sentAt;
    if (!this.holdsLock) this.holdsLock = await session.tryLock();
    await this.saveNodeEvery(session, 1_000);
    const to = renewed.handoverTo;
    if (to && to !== nodeId && !this.stepDown && !this.stopping) {
      const candidate = await freshNode(session.store, cluster, to, Math.max(3_000, 4 * this.options.pollMs));
      if (candidate && candidate.priority > this.options.priority) {
        void this.handOver(`handing over to '${to}' (priority ${candidate.priority} > ${this.options.priority})`, to);
      }
    }
  }

  private async standbyTick(session: HaSession): Promise<void> {
    const { cluster, nodeId, priority, renewMs, pollMs, leaseMs } = this.options;
    const { lease, now: dbNow } = await readLease(session.store, cluster);
    await this.saveNodeEvery(session, 1_000);
    if (this.stopping || now() < this.sitOutUntil) return;
    if (!lease) return this.takeOver(session, null, "no node held the lease");

    const expired = lease.expiresAt <= dbNow;
    if (expired) {
      if (lease.handoverTo === nodeId) return this.takeOver(session, lease, `'${lease.holder}' handed the lead over`);
      if (lease.handoverTo && dbNow - lease.expiresAt < leaseMs) return; // reserved for the node it was handed to
      // Give a fresh standby of higher priority a head start, so the preferred node usually wins.
      this.expiredSeenAt ??= now();
      if (now() - this.expiredSeenAt < 2 * pollMs && (await higherPriorityStandby(session.store, cluster, nodeId, priority, 3 * pollMs + 1_000))) return;
      return this.takeOver(session, lease, `the lease of '${lease.holder}' (epoch ${lease.epoch}) expired or was released`);
    }
    this.expiredSeenAt = null;
    if (!this.key!.verify(lease.holder, lease.epoch, lease.proof)) {
      return this.takeOver(session, lease, `the lease is held by '${lease.holder}', which does not prove the cluster secret`);
    }
    // The DB ended the leader's session (its process died, or it lost the DB, in which case it kills its
    // child on noticing): once it has also missed a renewal, it is gone.
    if (session.id !== null && dbNow - lease.renewedAt > renewMs && (await session.lockHolder()) === null) {
      return this.takeOver(session, lease, `the database session of leader '${lease.holder}' ended: its controller died or lost the database`);
    }
    this.considerPreemption(session, lease);
  }

  private considerPreemption(session: HaSession, lease: LeaseView): void {
    const { noPreempt, priority, preemptDelayMs, cluster, nodeId, logger } = this.options;
    if (noPreempt || lease.holder === nodeId || priority <= (lease.priority ?? 0)) {
      this.eligibleSince = null;
      this.handoverAsked = false;
      return;
    }
    this.eligibleSince ??= now();
    if (this.handoverAsked || now() - this.eligibleSince < preemptDelayMs) return;
    this.handoverAsked = true;
    logger.info({ leader: lease.holder, epoch: lease.epoch, leader_priority: lease.priority, priority }, "asking the leader of lower priority to hand over");
    void requestHandover(session.store, cluster, nodeId, lease.epoch).catch(() => (this.handoverAsked = false));
  }

  private async takeOver(session: HaSession, seen: LeaseView | null, reason: string): Promise<void> {
    const { cluster, nodeId, priority, leaseMs, logger } = this.options;
    const sentAt = now();
    // The UPDATE waits for transactions that still hold the lease row. Those of a leader whose host died
    // mid-transaction would hold it until the DB drops the dead connection (hours, with default TCP
    // settings): after a moment, end them. Aborting a deposed leader's transaction is what fencing wants.
    const blocked = setTimeout(() => {
      session
        .endBlockers()
        .then((ended) => ended.length > 0 && logger.warn({ sessions: ended }, "ended the DB sessions that held the lease row and blocked the takeover"))
        .catch((error: Error) => logger.warn({ err: error.message }, "could not end the DB sessions blocking the takeover"));
    }, TAKEOVER_BLOCKED_MS);
    let epoch: number | null;
    try {
      epoch = await takeLease(session.store, cluster, { node: nodeId, priority, session: session.id, proof: (e) => this.key!.proof(nodeId, e) }, seen, leaseMs);
    } finally {
      clearTimeout(blocked);
    }
    if (epoch === null) return; // another node was faster
    this.renewedAt = sentAt;
    this.epoch = epoch;
    this.role = "active";
    this.eligibleSince = null;
    this.handoverAsked = false;
    this.expiredSeenAt = null;
    this.holdsLock = await session.tryLock();
    if (!this.holdsLock && seen) {
      // The DB still thinks a deposed leader's session is alive (a silent partition): end it, so that a
      // later crash of this node is noticed through the lock again.
      const holder = await session.lockHolder();
      if (holder && holder !== "unknown" && holder !== session.id) {
        await session.terminate(holder).catch((error: Error) => logger.warn({ err: error.message, session: holder }, "could not end the deposed leader's DB session"));
        this.holdsLock = await session.tryLock();
      }
    }
    logger.info({ node_id: nodeId, epoch, reason }, "became active");
    await this.note("standby", "active", reason, epoch);
    this.fire("became_active", reason, epoch);
    this.nodeSavedAt = 0;
    this.supervisor.run(epoch);
  }

  /** Stops the child gracefully while renewals go on, then releases the lease (to `to`, when preempted). */
  private handOver(reason: string, to: string | null): Promise<void> {
    const { logger, cluster, nodeId } = this.options;
    const epoch = this.epoch!;
    logger.info({ epoch, to }, reason);
    // Renewals go on while the child stops; if they fail, the deadline timer kills it in time.
    this.stepDown = (async () => {
      await this.supervisor.stop(true, this.options.stopTimeoutMs);
      if (this.role !== "active" || this.epoch !== epoch) return; // lost meanwhile
      this.role = "standby";
      this.epoch = null;
      const session = this.session; // it may be lost (null) while releaseLease waits
      if (session) {
        await releaseLease(session.store, cluster, nodeId, epoch).catch(() => undefined);
        await session.unlock().catch(() => undefined);
      }
      this.holdsLock = false;
      logger.info({ epoch, reason }, "lost leadership");
      await this.note("active", this.stopping ? "stopped" : "standby", reason, epoch);
      this.fire("lost_leadership", reason, epoch);
      this.nodeSavedAt = 0;
    })().finally(() => (this.stepDown = null));
    return this.stepDown;
  }

  /** Leadership is gone or in doubt: kill the child at once, then become a standby. */
  private async loseLeadership(reason: string): Promise<void> {
    if (this.role !== "active") return;
    const epoch = this.epoch;
    this.role = "standby";
    this.epoch = null;
    this.options.logger.error({ epoch, reason }, "lost leadership");
    await this.supervisor.stop(false);
    if (this.holdsLock && this.session) await this.session.unlock().catch(() => undefined);
    this.holdsLock = false;
    await this.note("active", "standby", reason, epoch);
    this.fire("lost_leadership", reason, epoch);
    this.nodeSavedAt = 0;
  }

  private async giveUp(reason: string): Promise<void> {
    if (this.role !== "active") return;
    const { logger, cluster, nodeId, restartWindowMs } = this.options;
    const epoch = this.epoch!;
    logger.error({ epoch, reason, sit_out_ms: restartWindowMs }, "gave up after failed restarts; stepping down so another node takes over");
    this.sitOutUntil = now() + restartWindowMs;
    this.role = "standby";
    this.epoch = null;
    await this.supervisor.stop(false);
    const session = this.session; // it may be lost (null) while releaseLease waits
    if (session) {
      await releaseLease(session.store, cluster, nodeId, epoch).catch(() => undefined);
      await session.unlock().catch(() => undefined);
    }
    this.holdsLock = false;
    await this.note("active", "standby", `gave up: ${reason}`, epoch);
    this.fire("gave_up", reason, epoch);
  }

  /** Queues a transition event; written now if the DB answers, else after reconnecting. */
  private async note(from: string, to: string, reason: string, epoch: number | null): Promise<void> {
    this.pendingEvents.push({ event: { cluster: this.options.cluster, nodeId: this.options.nodeId, from, to, reason, epoch }, at: now() });
    await this.flush().catch(() => undefined);
  }

  private async flush(): Promise<void> {
    while (this.session && this.pendingEvents.length > 0) {
      const { event, at } = this.pendingEvents[0]!;
      await recordEvent(this.session.store, event, now() - at);
      this.pendingEvents.shift();
    }
  }

  private async saveNodeEvery(session: HaSession, everyMs: number): Promise<void> {
    if (now() - this.nodeSavedAt < everyMs) return;
    const health: ChildHealth | null = this.supervisor.health;
    await saveNode(session.store, this.identity, { role: this.role, childPid: this.supervisor.pid, childHealth: health });
    this.nodeSavedAt = now();
  }

  private fire(event: HookEvent, reason: string, epoch: number | null): void {
    this.options.hooks.fire({ event, cluster: this.options.cluster, node_id: this.options.nodeId, epoch, reason, at: new Date().toISOString() });
  }
}


/** Resolves or rejects with `promise`; after `ms`, calls `onTimeout` and rejects. */
async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
