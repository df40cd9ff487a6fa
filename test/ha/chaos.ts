/**
 * The randomized chaos run of the HA controller (issue 5): for N minutes, a real cluster of three
 * `aloft scheduler` controllers (different priorities, one with --no-preempt, each connected to the
 * metadata DB through a TCP proxy of its own) runs the workload DAGs of ha.ts while faults drawn at
 * random hit it one after another, with random gaps and a recovery between them. At the end the
 * workload drains and the invariants are checked:
 * - never two scheduling children running at once (the /proc sampler), but for a deposed child
 *   resumed from SIGSTOP, for at most STALE_CHILD_MS, which must have committed nothing;
 * - no (dag, run, task, try) executed twice (the marks file, and task processes seen at once);
 * - every DAG run the workload triggered exists and finishes with success;
 * and a few of the chaos run's own: the cluster recovers (an active node with a running child)
 * after every fault, no controller exits unless told to, a node with a wrong secret is refused.
 *
 * Used by test/ha/chaos-run.ts (`npm run chaos`) and test/ha/chaos.test.ts (CI, a short run).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "../../src/store/kysely.js";
import { readLease } from "../../src/ha/election.js";
import { openStore } from "../../src/store/db.js";
import { waitFor } from "../helpers/aloft.js";
import {
  CONTINUOUS_DAG,
  HA_SECRET,
  HA_TIMINGS,
  HaCluster,
  childTimeline,
  concurrentExecutions,
  runningChildren,
  sleep,
  type ChildRecord,
  type DatabaseLike,
  type HaNode,
  type Snapshot,
} from "../helpers/ha.js";
import { PrivateServer, privateServerUnavailable } from "../helpers/private-db.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

export const FAULT_KINDS = [
  "kill-child",
  "sigterm-controller",
  "kill-controller",
  "sigstop",
  "cut-db",
  "restart-priority",
  "wrong-secret",
  "db-restart",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const DEFAULT_URLS = {
  postgres: "postgres://postgres@127.0.0.1:5432/postgres",
  mysql: "mysql://root@127.0.0.1:3306/test",
} as const;

export interface ChaosOptions {
  minutes: number;
  seed: number;
  dialect: "postgres" | "mysql";
  /** The server to create the run's database on (default: ALOFT_TEST_*_URL, else DEFAULT_URLS). */
  serverUrl?: string;
  /** Run a private DB server of its own (test/helpers/private-db.ts); adds the db-restart fault. */
  privateDb?: boolean;
  /** Where progress lines go (default: stdout). */
  print?: (line: string) => void;
  /** How long the workload may take to finish once the faults end (default 120 s). */
  drainMs?: number;
}

export interface FaultRecord {
  n: number;
  kind: FaultKind;
  target: string;
  at: number;
  detail: string;
  /** The fault took the leader's child away: a new child must run. */
  hitsLeader: boolean;
  /** ms from the fault until an active node had a running child again (leader faults only). */
  recoveryMs?: number;
  leaderAfter?: string;
}

export interface ChaosSummary {
  seed: number;
  dialect: string;
  database: string;
  minutes: number;
  chaosMs: number;
  drainMs: number;
  faults: FaultRecord[];
  faultsByKind: Record<string, number>;
  takeovers: Array<{ at: number; node: string; epoch: number; reason: string }>;
  epochs: { first: number | null; last: number | null };
  longestNoChild: { ms: number; from: number; afterFault: string | null };
  runs: { triggered: number; total: number; finished: number; success: number; failed: number; unfinished: number };
  tries: number;
  childrenSeen: number;
  sampler: { samples: number; worstGapMs: number; allowedOverlapSamples: number };
  notes: string[];
  violations: string[];
  t0: number;
  /** Where the controllers' logs, the faults and the children's timeline were saved. */
  logDir: string;
}

/** Deposed children resumed from SIGSTOP may run this long until their controller or fencing stops them. */
const STALE_CHILD_MS = 3000;
/** An active node with a running child again within this long after each fault (and its healing). */
const RECOVERY_MS = 45_000;

/** mulberry32: a small seeded PRNG, so that a seed replays the same sequence of faults and gaps. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSeed(): number {
  return crypto.randomBytes(4).readUInt32BE(0);
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function masked(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

/** A database of its own on the shared server: created now, dropped by `drop()`. */
async function sharedDatabase(dialect: "postgres" | "mysql", serverUrl: string): Promise<DatabaseLike> {
  const name = `aloft_chaos_${crypto.randomBytes(5).toString("hex")}`;
  const admin = await openStore(serverUrl, { poolSize: 1 });
  try {
    await sql`create database ${sql.id(name)}`.execute(admin.db);
  } finally {
    await admin.close();
  }
  return {
    dialect,
    url: withDatabase(serverUrl, name),
    async drop() {
      const a = await openStore(serverUrl, { poolSize: 1 });
      try {
        if (dialect === "postgres") await sql`drop database if exists ${sql.id(name)} with (force)`.execute(a.db);
        else await sql`drop database if exists ${sql.id(name)}`.execute(a.db);
      } finally {
        await a.close();
      }
    },
  };
}

/** One of the three nodes: its id, its settings (priority changes with restart-priority), its proxy, its current process. */
interface Slot {
  id: string;
  priority: number;
  noPreempt: boolean;
  proxy: TcpProxy;
  node: HaNode | null;
  /** We stopped it on purpose: its exit is no violation. */
  expectExit: boolean;
  cut: boolean;
}

interface StaleChild {
  key: string;
  pid: number;
  node: string;
  fault: number;
  resumedAt: number;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const rng = prng(options.seed);
  const between = (lo: number, hi: number) => Math.round(lo + rng() * (hi - lo));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const { leaseMs } = HA_TIMINGS;
  const env = options.dialect === "postgres" ? "ALOFT_TEST_POSTGRES_URL" : "ALOFT_TEST_MYSQL_URL";
  const serverUrl = options.serverUrl ?? process.env[env] ?? DEFAULT_URLS[options.dialect];

  let server: PrivateServer | undefined;
  let database: DatabaseLike;
  if (options.privateDb) {
    const unavailable = privateServerUnavailable(options.dialect);
    if (unavailable) throw new Error(`--private-db: ${unavailable}`);
    server = new PrivateServer(options.dialect);
    await server.init();
    database = { dialect: options.dialect, url: server.url, drop: async () => undefined };
  } else {
    database = await sharedDatabase(options.dialect, serverUrl);
  }

  const cluster = new HaCluster(database);
  const t0 = cluster.t0;
  const stamp = (at = Date.now()) => `[+${((at - t0) / 1000).toFixed(1).padStart(6)}s ${new Date(at).toISOString().slice(11, 23)}]`;
  const say = (line: string, at?: number) => print(`${stamp(at)} ${line}`);

  const violations: string[] = [];
  const notes: string[] = [];
  const violation = (text: string) => {
    violations.push(text);
    say(`VIOLATION ${text}`);
  };
  const faults: FaultRecord[] = [];
  const takeovers: ChaosSummary["takeovers"] = [];
  const stale: StaleChild[] = [];
  const allowances: Array<{ key: string; from: number; maxMs: number }> = [];
  const slots: Slot[] = [];
  const intruders: HaNode[] = [];
  let chaosStart = 0;
  let chaosEnd = 0;
  let drainMs = 0;
  let summary: ChaosSummary | undefined;

  // ---- evidence kept after the run: every controller's log, the faults, the children's timeline
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `aloft-chaos-${options.seed}-`));
  const saveLogs = () => {
    try {
      cluster.nodes.forEach((node, i) => fs.writeFileSync(path.join(logDir, `${String(i + 1).padStart(2, "0")}-${node.id}.log`), node.stderr));
      fs.writeFileSync(path.join(logDir, "faults.json"), JSON.stringify(faults.map((f) => ({ ...f, atRelMs: f.at - t0 })), null, 2));
      if (lastSnapshot) fs.writeFileSync(path.join(logDir, "children.txt"), `t0 ${new Date(t0).toISOString()} (${t0})\n${childTimeline(lastSnapshot, t0)}\n`);
      fs.writeFileSync(path.join(logDir, "marks.txt"), cluster.marks().join("\n"));
    } catch (error) {
      print(`could not save the logs: ${(error as Error).message}`);
    }
  };
  let lastSnapshot: Snapshot | undefined;

  // ---- watching the nodes' logs
  const seen = new Map<HaNode, number>();
  const reported = new Set<HaNode>();
  const watch = () => {
    for (const node of cluster.nodes) {
      const from = seen.get(node) ?? 0;
      for (const line of node.lines.slice(from)) {
        const msg = typeof line.msg === "string" ? line.msg : "";
        if (msg === "became active") {
          takeovers.push({ at: line.seenAt, node: node.id, epoch: Number(line.epoch), reason: String(line.reason) });
          say(`  ${node.id} became active, epoch ${line.epoch}: ${line.reason}`, line.seenAt);
        } else if (msg === "lost leadership") {
          say(`  ${node.id} lost leadership (epoch ${line.epoch}): ${line.reason}`, line.seenAt);
        } else if (msg.startsWith("gave up")) {
          say(`  ${node.id} gave up after failed restarts: ${line.reason}`, line.seenAt);
        } else if (msg.startsWith("child unhealthy")) {
          say(`  ${node.id}: child ${line.pid} unhealthy (silent ${line.silent_ms} ms), killed`, line.seenAt);
        }
      }
      seen.set(node, node.lines.length);
      const slot = slots.find((s) => s.node === node);
      if (slot && !node.running && node.exitCode !== undefined && !slot.expectExit && !reported.has(node)) {
        reported.add(node);
        violation(`controller ${node.id} (pid ${node.pid}) exited by itself with ${node.exitCode ?? node.exitSignal}:\n${node.tail(8)}`);
      }
    }
  };
  const watcher = setInterval(watch, 200);

  // ---- the cluster's state, read cheaply (the lease row and the sampler; no CLI process)
  const leaderNow = async (): Promise<{ slot: Slot; node: HaNode; child: ChildRecord; epoch: number } | undefined> => {
    const { lease, now } = await readLease(cluster.store, "scheduler").catch(() => ({ lease: null, now: 0 }));
    if (!lease || lease.expiresAt <= now) return undefined;
    const slot = slots.find((s) => s.id === lease.holder && s.node?.running);
    if (!slot) return undefined;
    const child = runningChildren(await cluster.sampler.snapshot()).find((c) => c.node === slot.id && c.epoch === lease.epoch);
    return child ? { slot, node: slot.node!, child, epoch: lease.epoch } : undefined;
  };
  const waitForLeader = (timeoutMs: number) =>
    waitFor("an active node with a running child", leaderNow, timeoutMs, 100).catch(() => undefined);

  // ---- starting and stopping nodes
  const startSlot = async (slot: Slot): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      const node = cluster.node(slot.id, { priority: slot.priority, noPreempt: slot.noPreempt, databaseUrl: slot.proxy.url(cluster.databaseUrl) });
      slot.node = node;
      slot.expectExit = false;
      node.start();
      const outcome = await waitFor(
        `${slot.id} to join`,
        async () => (node.logs("standby").length > 0 ? "joined" : node.exitCode !== undefined ? "exited" : undefined),
        40_000,
        50,
      ).catch(() => "timeout");
      if (outcome === "joined") return true;
      if (outcome === "exited" && node.stderr.includes("already used by a live controller") && attempt < 30) {
        // After a kill -9 its row looks alive for a few seconds: the product refuses the same id meanwhile.
        if (attempt === 1) say(`  ${slot.id} refused: its node id still looks in use (row fresh after a kill); retrying every second`);
        reported.add(node);
        await sleep(1000);
        continue;
      }
      reported.add(node);
      violation(`${slot.id} did not join the cluster (${outcome}, exit ${node.exitCode ?? node.exitSignal}):\n${node.tail(8)}`);
      await node.kill();
      return false;
    }
  };

  const stopSlot = async (slot: Slot, signal: "SIGTERM" | "SIGKILL"): Promise<number | null> => {
    const node = slot.node!;
    slot.expectExit = true;
    node.signal(signal);
    const timeoutMs = signal === "SIGTERM" ? HA_TIMINGS.stopTimeoutMs + 15_000 : 10_000;
    const code = await node.waitForExit(timeoutMs);
    if (signal === "SIGTERM" && code !== 0) violation(`${slot.id} did not stop cleanly on SIGTERM within ${timeoutMs} ms (exit ${code ?? node.exitSignal}):\n${node.tail(8)}`);
    return code;
  };

  /** Puts back what a fault left: proxies listening, every node running. */
  const heal = async () => {
    for (const slot of slots) {
      if (slot.cut) {
        await slot.proxy.resume();
        slot.cut = false;
      }
    }
    for (const slot of slots) {
      if (!slot.node?.running) {
        say(`  restarting ${slot.id}, which is down`);
        await startSlot(slot);
      }
    }
  };

  const runningSlots = () => slots.filter((s) => s.node?.running);

  // ---- the faults
  let intruderCount = 0;
  const inject = async (kind: FaultKind, n: number): Promise<FaultRecord | undefined> => {
    const leader = await waitForLeader(10_000);
    if (!leader) return undefined;
    const others = runningSlots().filter((s) => s !== leader.slot && !s.cut);
    const record = (target: string, detail: string, hitsLeader: boolean, at = Date.now()): FaultRecord => {
      const fault: FaultRecord = { n, kind, target, at, detail, hitsLeader };
      faults.push(fault);
      say(`FAULT #${n} ${kind} → ${target}: ${detail}`, at);
      return fault;
    };
    // Faults that take the leader away need a node to take over.
    const needsStandby = ["sigterm-controller", "kill-controller", "sigstop"].includes(kind);
    if (needsStandby && others.length === 0) return undefined;

    switch (kind) {
      case "kill-child": {
        const fault = record(leader.slot.id, `kill -9 of its child pid ${leader.child.pid} (epoch ${leader.epoch})`, true);
        try {
          process.kill(leader.child.pid, "SIGKILL");
        } catch {
          fault.detail += " (already gone)";
        }
        return fault;
      }
      case "sigterm-controller":
      case "kill-controller": {
        const signal = kind === "sigterm-controller" ? "SIGTERM" : "SIGKILL";
        const downMs = between(500, 5000);
        const fault = record(leader.slot.id, `${signal} to controller pid ${leader.node.pid} (child pid ${leader.child.pid}, epoch ${leader.epoch}); restarted after ${downMs} ms`, true);
        await stopSlot(leader.slot, signal);
        await sleep(downMs);
        await startSlot(leader.slot);
        return fault;
      }
      case "sigstop": {
        const stopMs = leaseMs + between(500, 3000);
        const childFirst = rng() < 0.5;
        const fault = record(
          leader.slot.id,
          `SIGSTOP of controller pid ${leader.node.pid} and child pid ${leader.child.pid} (epoch ${leader.epoch}) for ${stopMs} ms, then SIGCONT (${childFirst ? "child" : "controller"} first)`,
          true,
        );
        const signal = (pid: number, s: NodeJS.Signals) => {
          try {
            process.kill(pid, s);
          } catch {
            // gone
          }
        };
        signal(leader.node.pid, "SIGSTOP");
        signal(leader.child.pid, "SIGSTOP");
        await sleep(stopMs);
        const { lease } = await readLease(cluster.store, "scheduler");
        const deposed = lease !== null && lease.epoch > leader.epoch;
        const resumedAt = Date.now();
        for (const pid of childFirst ? [leader.child.pid, leader.node.pid] : [leader.node.pid, leader.child.pid]) signal(pid, "SIGCONT");
        if (deposed) {
          // A sample is stamped when its pass over /proc begins: one that saw the child resumed may carry
        // a time a little before resumedAt.
        allowances.push({ key: leader.child.key, from: resumedAt - 500, maxMs: STALE_CHILD_MS + 500 });
          stale.push({ key: leader.child.key, pid: leader.child.pid, node: leader.slot.id, fault: n, resumedAt });
          say(`  resumed ${leader.slot.id}: '${lease!.holder}' leads meanwhile (epoch ${lease!.epoch}); its old child must stop within ${STALE_CHILD_MS} ms and commit nothing`);
        } else {
          fault.detail += "; nobody took over meanwhile";
          say(`  resumed ${leader.slot.id}: no other node took over during the stop (lease epoch ${lease?.epoch})`);
        }
        return fault;
      }
      case "cut-db": {
        const candidates = runningSlots().filter((s) => !s.cut);
        const slot = rng() < 0.7 || candidates.length < 2 ? leader.slot : pick(candidates.filter((s) => s !== leader.slot));
        if (slot === leader.slot && others.length === 0) return undefined;
        const silent = rng() < 0.5;
        const cutMs = between(1500, 9000);
        const fault = record(
          slot.id,
          `${slot === leader.slot ? "the active node" : "a standby"} cut off from the DB for ${cutMs} ms (${silent ? "packets dropped" : "proxy stopped, connections reset"})`,
          slot === leader.slot,
        );
        slot.cut = true;
        if (silent) slot.proxy.blackhole();
        else await slot.proxy.stop();
        await sleep(cutMs);
        await slot.proxy.resume();
        slot.cut = false;
        say(`  ${slot.id} reconnected to the DB`);
        return fault;
      }
      case "restart-priority": {
        const slot = pick(runningSlots());
        if (slot === leader.slot && others.length === 0) return undefined;
        const priority = pick([50, 150, 250, 350].filter((p) => p !== slot.priority));
        const fault = record(
          slot.id,
          `${slot === leader.slot ? "the active node" : "a standby"} restarted (SIGTERM) with priority ${slot.priority} → ${priority}${slot.noPreempt ? " (--no-preempt)" : ""}`,
          slot === leader.slot,
        );
        await stopSlot(slot, "SIGTERM");
        slot.priority = priority;
        await startSlot(slot);
        return fault;
      }
      case "wrong-secret": {
        const id = `intruder${++intruderCount}`;
        const wrong = `wrong secret ${crypto.randomBytes(4).toString("hex")}`;
        const fault = record(id, `a controller with a wrong secret and priority 1000 starts`, false);
        const node = cluster.node(id, { priority: 1000, env: { ALOFT_HA_SECRET: wrong } });
        intruders.push(node);
        node.start();
        const code = await node.waitForExit(30_000);
        if (code !== 2 || !/cluster secret/.test(node.stderr)) {
          violation(`${id} with a wrong secret was not refused as expected (exit ${code ?? node.exitSignal}):\n${node.tail(8)}`);
        } else {
          say(`  ${id} refused: exit 2, "${node.stderr.trim().split("\n").pop()!.slice(0, 110)}…"`);
        }
        if (node.stderr.includes(wrong) || node.stdout.includes(wrong)) violation(`${id} printed its (wrong) secret`);
        return fault;
      }
      case "db-restart": {
        if (!server) return undefined;
        const downMs = between(0, leaseMs + 2000);
        const fault = record(`${options.dialect} server`, `the DB server restarts, down ${downMs} ms`, true);
        await server.restart(downMs);
        say(`  the DB server is back`);
        return fault;
      }
    }
  };

  // A shuffled deck of the fault kinds: every kind comes once before any comes again.
  const kinds = FAULT_KINDS.filter((k) => k !== "db-restart" || server !== undefined);
  let deck: FaultKind[] = [];
  const nextKind = (): FaultKind => {
    if (deck.length === 0) {
      deck = [...kinds];
      for (let i = deck.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [deck[i], deck[j]] = [deck[j]!, deck[i]!];
      }
    }
    return deck.shift()!;
  };

  const onSignal = () => {
    print("\ninterrupted: stopping the cluster");
    void teardown().finally(() => process.exit(130));
  };
  const teardown = async () => {
    clearInterval(watcher);
    saveLogs();
    await cluster.teardown({ dropDatabase: true }).catch((e: Error) => print(`teardown: ${e.message}`));
    for (const slot of slots) await slot.proxy.stop().catch(() => undefined);
    await server?.destroy().catch(() => undefined);
  };
  process.once("SIGINT", onSignal);

  try {
    say(`chaos run: seed ${options.seed}, ${options.minutes} min of faults, ${options.dialect} ${server ? `private server on port ${server.port}` : `database ${masked(database.url)}`}`);
    say(`logs kept in ${logDir}`);
    say(`settings: lease ${leaseMs} ms, renew ${HA_TIMINGS.renewMs} ms, poll ${HA_TIMINGS.pollMs} ms, preemption delay ${HA_TIMINGS.preemptDelayMs} ms, child timeout ${HA_TIMINGS.childTimeoutMs} ms`);
    await cluster.setup();
    const target = new URL(database.url);
    const dbPort = Number(target.port || (options.dialect === "postgres" ? 5432 : 3306));
    for (const [id, priority, noPreempt] of [
      ["n1", 300, false],
      ["n2", 200, true],
      ["n3", 100, false],
    ] as const) {
      const proxy = new TcpProxy(target.hostname, dbPort);
      await proxy.start();
      slots.push({ id, priority, noPreempt, proxy, node: null, expectExit: false, cut: false });
    }
    say(`nodes: ${slots.map((s) => `${s.id} (priority ${s.priority}${s.noPreempt ? ", --no-preempt" : ""}, DB through proxy :${s.proxy.port})`).join(", ")}; all started at once`);
    await Promise.all(slots.map((s) => startSlot(s)));
    const first = await waitForLeader(60_000);
    if (!first) throw new Error(`no node became active with a running child within 60 s\n${cluster.describe()}`);
    cluster.startWorkload(2000);
    await cluster.waitForProgress(3, 90_000);
    say(`workload running (a run of ha_chain or ha_fan triggered every 2 s, and the continuous ${CONTINUOUS_DAG}); ${first.slot.id} leads; faults start`);

    chaosStart = Date.now();
    const deadline = chaosStart + options.minutes * 60_000;
    let n = 0;
    while (Date.now() < deadline) {
      await heal();
      const before = Date.now();
      const leader = await waitForLeader(RECOVERY_MS);
      const last = faults.at(-1);
      if (!leader) {
        violation(`no active node with a running child ${Math.round((Date.now() - (last?.at ?? before)) / 1000)} s after fault #${last?.n ?? "-"} (${last?.kind ?? "start"})`);
      } else if (last && last.recoveryMs === undefined && last.leaderAfter === undefined) {
        last.leaderAfter = leader.slot.id;
        if (last.hitsLeader && leader.child.firstSeen >= last.at) {
          last.recoveryMs = leader.child.firstSeen - last.at;
          say(`  recovered: ${leader.slot.id} leads (epoch ${leader.epoch}), its child running ${(last.recoveryMs / 1000).toFixed(1)} s after the fault`);
        } else {
          say(`  ${leader.slot.id} leads (epoch ${leader.epoch})`);
        }
      }
      const gap = between(2000, 7000);
      await sleep(Math.min(gap, Math.max(0, deadline - Date.now())));
      if (Date.now() >= deadline) break;
      const kind = nextKind();
      const fault = await inject(kind, n + 1);
      if (fault) n++;
      else deck.push(kind); // not possible right now: later
    }
    chaosEnd = Date.now();
    say(`faults end (${faults.length} injected); healing and draining the workload`);
    await heal();
    const settled = await waitForLeader(RECOVERY_MS);
    if (!settled) violation(`no active node with a running child ${RECOVERY_MS / 1000} s after the faults ended`);
    else if (faults.at(-1)?.hitsLeader && faults.at(-1)!.recoveryMs === undefined) faults.at(-1)!.recoveryMs = settled.child.firstSeen - faults.at(-1)!.at;
    const drainStart = Date.now();
    const runs = await cluster.drain(options.drainMs ?? 120_000);
    drainMs = Date.now() - drainStart;
    say(`workload drained in ${(drainMs / 1000).toFixed(1)} s`);
    watch();
    const snap = await cluster.sampler.snapshot();
    lastSnapshot = snap;
    summary = await check(snap, runs);
  } finally {
    if (!lastSnapshot) lastSnapshot = await cluster.sampler.snapshot().catch(() => undefined);
    process.off("SIGINT", onSignal);
    await teardown();
  }
  return summary!;

  // ---- the invariants
  async function check(snap: Snapshot, runs: Awaited<ReturnType<HaCluster["drain"]>>): Promise<ChaosSummary> {
    // 1. Never two children running at once (but for the narrow allowances of SIGSTOP).
    const byKey = new Map(snap.children.map((c) => [c.key, c]));
    const covered = (o: { at: number; keys: string[] }) =>
      allowances.some((a) => o.keys.length === 2 && o.keys.includes(a.key) && o.at >= a.from && o.at <= a.from + a.maxMs);
    const allowedSamples = snap.overlaps.filter(covered).length;
    const bad = snap.overlaps.filter((o) => !covered(o));
    const episodes: Array<{ from: number; to: number; keys: string[]; samples: number }> = [];
    for (const o of bad) {
      const lastEpisode = episodes.at(-1);
      if (lastEpisode && o.at - lastEpisode.to < 500 && o.keys.join() === lastEpisode.keys.join()) {
        lastEpisode.to = o.at;
        lastEpisode.samples++;
      } else episodes.push({ from: o.at, to: o.at, keys: o.keys, samples: 1 });
    }
    for (const e of episodes.slice(0, 10)) {
      const who = e.keys.map((k) => byKey.get(k)!).map((c) => `pid ${c.pid} of ${c.node} (epoch ${c.epoch}, running ${c.intervals.map(([a, b]) => `+${a - t0}..+${b - t0}`).join(", ")})`);
      const fault = [...faults].reverse().find((f) => f.at <= e.from);
      violation(
        `two children running at once from +${e.from - t0} to +${e.to - t0} ms (${e.samples} samples): ${who.join(" and ")}; last fault before: ${fault ? `#${fault.n} ${fault.kind} → ${fault.target} at +${fault.at - t0} ms` : "none"}`,
      );
    }
    if (episodes.length > 10) violation(`… and ${episodes.length - 10} more episodes of two children running at once`);

    // 2. Deposed children resumed from SIGSTOP committed nothing.
    for (const s of stale) {
      const started = snap.tasks.filter((t) => t.child === s.key && t.firstSeen >= s.resumedAt);
      if (started.length > 0) violation(`the deposed child pid ${s.pid} of ${s.node} (fault #${s.fault}) started tasks after SIGCONT: ${started.map((t) => `${t.dag} ${t.run} ${t.task} ${t.tryNumber}`).join("; ")}`);
      const pids = new Set([s.pid, ...snap.tasks.filter((t) => t.child === s.key).flatMap((t) => [t.pid, t.ppid])]);
      const claimed = await sql<{ dag_id: string; run_id: string; task_id: string; try_number: number; pid: number | null }>`select dag_id, run_id, task_id, try_number, pid from task_try where start_date >= ${s.resumedAt}`.execute(cluster.store.db);
      const its = claimed.rows.filter((r) => r.pid !== null && pids.has(Number(r.pid)));
      if (its.length > 0) violation(`the deposed child pid ${s.pid} of ${s.node} (fault #${s.fault}) claimed tries after SIGCONT: ${its.map((r) => `${r.dag_id} ${r.run_id} ${r.task_id} ${r.try_number}`).join("; ")}`);
      const child = byKey.get(s.key);
      if (child && child.goneAt === null) violation(`the deposed child pid ${s.pid} of ${s.node} (fault #${s.fault}) is still alive`);
    }

    // 3. No try executed twice.
    const marks = cluster.marks();
    const counts = new Map<string, number>();
    for (const line of marks) counts.set(line, (counts.get(line) ?? 0) + 1);
    const twice = [...counts].filter(([, k]) => k > 1).map(([line, k]) => `${line} (${k} times)`);
    if (twice.length > 0) violation(`task tries executed more than once (marks file): ${twice.slice(0, 10).join("; ")}${twice.length > 10 ? ` … ${twice.length} in all` : ""}`);
    const concurrent = concurrentExecutions(snap.tasks);
    if (concurrent.length > 0) violation(`one task instance executing twice at once: ${concurrent.slice(0, 5).join("; ")}`);

    // 4. Every run exists and finished with success.
    const known = new Set(runs.map((r) => `${r.dag_id} ${r.run_id}`));
    const missing = cluster.triggered.filter((t) => !known.has(`${t.dag} ${t.runId}`));
    if (missing.length > 0) violation(`triggered runs missing from the DB: ${missing.map((m) => m.runId).join(", ")}`);
    const newestLoop = runs.filter((r) => r.dag_id === CONTINUOUS_DAG).at(-1);
    const open = runs.filter((r) => r.state !== "success" && r.state !== "failed" && r !== newestLoop);
    if (open.length > 0) violation(`runs not finished ${(drainMs / 1000).toFixed(0)} s after the workload stopped: ${open.map((r) => `${r.dag_id}/${r.run_id}=${r.state}`).join(", ")}`);
    const failed = runs.filter((r) => r.state === "failed");
    if (failed.length > 0) violation(`runs that failed: ${failed.map((r) => `${r.dag_id}/${r.run_id}`).join(", ")}`);

    // 5. The refused nodes never ran anything; nobody logged the cluster secret.
    for (const node of intruders) {
      if (node.logs("became active").length > 0) violation(`${node.id} (wrong secret) became active`);
    }
    const intruderChildren = snap.children.filter((c) => intruders.some((i) => i.id === c.node));
    if (intruderChildren.length > 0) violation(`a node with a wrong secret ran a child: ${intruderChildren.map((c) => `${c.node} pid ${c.pid}`).join(", ")}`);
    for (const node of cluster.nodes) {
      if (node.stderr.includes(HA_SECRET) || node.stdout.includes(HA_SECRET)) violation(`${node.id} logged the cluster secret`);
    }

    // Figures.
    const spans = snap.children.flatMap((c) => c.intervals).sort((a, b) => a[0] - b[0]);
    let longest = { ms: 0, from: chaosStart, afterFault: null as string | null };
    let covers = chaosStart;
    for (const [a, b] of spans) {
      if (b < chaosStart) continue;
      if (a > covers && Math.min(a, chaosEnd) - covers > longest.ms) longest = { ms: Math.min(a, chaosEnd) - covers, from: covers, afterFault: null };
      covers = Math.max(covers, b);
      if (covers >= chaosEnd) break;
    }
    if (covers < chaosEnd && chaosEnd - covers > longest.ms) longest = { ms: chaosEnd - covers, from: covers, afterFault: null };
    const cause = [...faults].reverse().find((f) => f.at <= longest.from + 50);
    if (cause) longest.afterFault = `#${cause.n} ${cause.kind} → ${cause.target}`;
    if (snap.worstGapMs > 500) notes.push(`the /proc sampler once went ${snap.worstGapMs} ms without a sample (machine load): an overlap shorter than that could have been missed`);

    const faultsByKind: Record<string, number> = {};
    for (const k of kinds) faultsByKind[k] = 0;
    for (const f of faults) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
    const finished = runs.filter((r) => r.state === "success" || r.state === "failed");
    return {
      seed: options.seed,
      dialect: options.dialect,
      database: server ? `private ${options.dialect} server` : masked(database.url),
      minutes: options.minutes,
      chaosMs: chaosEnd - chaosStart,
      drainMs,
      faults,
      faultsByKind,
      takeovers,
      epochs: { first: takeovers[0]?.epoch ?? null, last: takeovers.at(-1)?.epoch ?? null },
      longestNoChild: longest,
      runs: {
        triggered: cluster.triggered.length,
        total: runs.length,
        finished: finished.length,
        success: runs.filter((r) => r.state === "success").length,
        failed: failed.length,
        unfinished: open.length,
      },
      tries: marks.length,
      childrenSeen: snap.children.length,
      sampler: { samples: snap.samples, worstGapMs: snap.worstGapMs, allowedOverlapSamples: allowedSamples },
      notes,
      violations,
      t0,
      logDir,
    };
  }
}

/** The end-of-run report. */
export function formatSummary(s: ChaosSummary): string {
  const lines: string[] = [];
  const rel = (at: number) => `+${((at - s.t0) / 1000).toFixed(1)}s`;
  lines.push("", "=== chaos summary ===");
  lines.push(`seed ${s.seed} · ${s.dialect} (${s.database}) · ${(s.chaosMs / 60_000).toFixed(1)} min of faults, then ${(s.drainMs / 1000).toFixed(0)} s to drain`);
  lines.push(`faults injected: ${s.faults.length}`);
  for (const [kind, count] of Object.entries(s.faultsByKind)) lines.push(`  ${kind.padEnd(20)} ${count}`);
  const leaderFaults = s.faults.filter((f) => f.hitsLeader && f.recoveryMs !== undefined);
  if (leaderFaults.length > 0) {
    const worst = leaderFaults.reduce((a, b) => (b.recoveryMs! > a.recoveryMs! ? b : a));
    lines.push(`  child running again after the faults on the leader: median ${(median(leaderFaults.map((f) => f.recoveryMs!)) / 1000).toFixed(1)} s, worst ${(worst.recoveryMs! / 1000).toFixed(1)} s (#${worst.n} ${worst.kind})`);
  }
  const changes = s.takeovers.slice(1);
  const moved = changes.filter((t, i) => t.node !== s.takeovers[i]!.node).length;
  lines.push(`takeovers observed: ${changes.length} after the first election (${moved} to another node, ${changes.length - moved} by the same node again); epochs ${s.epochs.first ?? "-"} → ${s.epochs.last ?? "-"}`);
  lines.push(
    `longest time with no scheduling child running: ${(s.longestNoChild.ms / 1000).toFixed(1)} s from ${rel(s.longestNoChild.from)}${s.longestNoChild.afterFault ? ` (after ${s.longestNoChild.afterFault})` : ""}`,
  );
  lines.push(
    `DAG runs: ${s.runs.finished} finished (${s.runs.success} success, ${s.runs.failed} failed), ${s.runs.unfinished} unfinished, of ${s.runs.total} (${s.runs.triggered} triggered by the workload, the rest continuous); ${s.tries} task tries started`,
  );
  lines.push(
    `instruments: ${s.childrenSeen} scheduling children seen, ${s.sampler.samples} /proc samples (worst gap ${s.sampler.worstGapMs} ms); ${s.sampler.allowedOverlapSamples} samples of a deposed child resumed from SIGSTOP beside the new leader's (allowed ≤ ${STALE_CHILD_MS} ms, checked to commit nothing)`,
  );
  for (const note of s.notes) lines.push(`note: ${note}`);
  lines.push(`invariant violations: ${s.violations.length}`);
  for (const v of s.violations) lines.push(`  ✗ ${v.split("\n").join("\n    ")}`);
  if (s.violations.length === 0) {
    lines.push("  ✓ never two scheduling children running at once");
    lines.push("  ✓ no (dag, run, task, try) executed twice");
    lines.push("  ✓ every DAG run finished, with success");
    lines.push("  ✓ recovered after every fault; no controller exited by itself; wrong secrets refused");
  }
  lines.push(`logs, faults and the children's timeline: ${s.logDir}`);
  lines.push(`replay: npm run chaos -- --seed ${s.seed} --minutes ${s.minutes} --dialect ${s.dialect}${s.database.startsWith("private") ? " --private-db" : ""}`);
  return lines.join("\n");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
