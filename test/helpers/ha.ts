/**
 * A cluster of real HA controllers (`aloft scheduler --node-id …`) on one metadata DB, for the
 * acceptance scenarios of the failover controller (issue 5), with:
 * - HaNode: one controller process, its own ALOFT_HOME, its JSON log lines, signals, its child;
 * - ChildSampler: a thread that samples /proc every ~10 ms and keeps, for every supervised child of
 *   this cluster, the intervals it was running (the log of child start/stop times), and which task
 *   process ran which try under which child;
 * - a workload: DAGs deployed with `aloft deploy`, runs triggered throughout, tasks that append
 *   "$ALOFT_DAG_ID $ALOFT_RUN_ID $ALOFT_TASK_ID $ALOFT_TRY_NUMBER" to a marks file;
 * - invariants checked after every scenario: never two children running at once, no try executed
 *   twice (marks file and task processes), every DAG run reaches success within a bound.
 *
 * Processes of one cluster carry ALOFT_TEST_HA_TAG=<random> in their environment (inherited by the
 * child and the tasks); that is how the sampler tells them from another test's, and how teardown
 * finds every process this cluster started.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { sql } from "../../src/store/kysely.js";
import { openStore, type Store } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrate.js";
import { BIN, runCli, tempDir, waitFor, type CliResult } from "./aloft.js";

/**
 * Short HA timings for tests (ms). The product defaults are 10000 / 500 / 250 / 30000 / 15000 / 10000.
 * The child timeout stays at its default: it also counts the child's start (no heartbeat before its
 * first scheduling pass), which takes 2 to 6 s on a loaded 2-core machine, and no scenario here is
 * about a hung child.
 */
export const HA_TIMINGS = {
  leaseMs: 3000,
  renewMs: 300,
  pollMs: 150,
  preemptDelayMs: 2000,
  childTimeoutMs: 15000,
  stopTimeoutMs: 3000,
};

export const HA_SECRET = "test cluster secret 7f3a";

function timingEnv(): NodeJS.ProcessEnv {
  return {
    ALOFT_HA_LEASE_MS: String(HA_TIMINGS.leaseMs),
    ALOFT_HA_RENEW_MS: String(HA_TIMINGS.renewMs),
    ALOFT_HA_POLL_MS: String(HA_TIMINGS.pollMs),
    ALOFT_HA_PREEMPT_DELAY_MS: String(HA_TIMINGS.preemptDelayMs),
    ALOFT_HA_CHILD_TIMEOUT_MS: String(HA_TIMINGS.childTimeoutMs),
    ALOFT_HA_STOP_TIMEOUT_MS: String(HA_TIMINGS.stopTimeoutMs),
    // A stopped child lets running tries finish for this long, then stops them.
    ALOFT_SHUTDOWN_GRACE_MS: "1000",
    ALOFT_WARM_RUNNERS: "1",
    ALOFT_WORKER_HEARTBEAT_MS: "500",
    ALOFT_WORKER_TIMEOUT_MS: "4000",
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** With ALOFT_HA_TEST_TRACE=1, prints when each phase of a scenario ends (to see where its time goes). */
export function trace(cluster: { t0: number }, what: string): void {
  if (process.env.ALOFT_HA_TEST_TRACE) process.stderr.write(`[ha +${Date.now() - cluster.t0} ms] ${what}\n`);
}

// ---------------------------------------------------------------------------------------------
// Status (`aloft ha status --json`, the contract's shape)

export interface HaStatus {
  cluster: string;
  epoch: number;
  leader: { node_id: string; epoch: number; expires_in_ms: number; renewed_ms_ago: number } | null;
  nodes: Array<{
    node_id: string;
    host: string;
    pid: number;
    priority: number;
    no_preempt: boolean;
    role: "standby" | "active" | "stopped" | "refused" | "lost";
    last_seen_ms_ago: number;
    child_pid: number | null;
    child_health: "starting" | "healthy" | "unhealthy" | null;
    started_at: string;
  }>;
  events: Array<{ at: string; node_id: string; from: string; to: string; reason: string; epoch: number }>;
}

// ---------------------------------------------------------------------------------------------
// The /proc sampler

export interface ChildRecord {
  key: string;
  pid: number;
  node: string | null;
  epoch: number | null;
  cluster: string;
  firstSeen: number;
  lastSeen: number;
  goneAt: number | null;
  /**
   * Each time it ran: [first, last] sample times (ms, this machine's clock) at which it was running,
   * and the time of the sample before the first one.
   */
  intervals: Array<[number, number, number]>;
  open: boolean;
  stoppedSamples: number;
}

export interface TaskProcess {
  key: string;
  pid: number;
  ppid: number;
  dag: string;
  run: string;
  task: string;
  tryNumber: number;
  node: string | null;
  /** The child (ChildRecord.key) it descends from, null when it was found after its child died. */
  child: string | null;
  command: string;
  firstSeen: number;
  lastSeen: number;
}

export interface Snapshot {
  at: number;
  samples: number;
  worstGapMs: number;
  children: ChildRecord[];
  tasks: TaskProcess[];
  /** Samples at which two or more children were running. */
  overlaps: Array<{ at: number; keys: string[] }>;
}

export class ChildSampler {
  private worker?: Worker;
  private nextId = 0;
  private readonly waiting = new Map<number, (s: Snapshot) => void>();
  private last?: Snapshot;

  constructor(
    readonly tag: string,
    readonly everyMs = 10,
  ) {}

  start(): void {
    this.worker = new Worker(new URL("./proc-sampler.mjs", import.meta.url), { workerData: { tag: this.tag, everyMs: this.everyMs } });
    this.worker.on("message", (m: { id: number; snapshot: Snapshot }) => {
      this.waiting.get(m.id)?.(m.snapshot);
      this.waiting.delete(m.id);
    });
  }

  private ask(type: "snapshot" | "stop"): Promise<Snapshot> {
    if (!this.worker) return Promise.resolve(this.last ?? emptySnapshot());
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker!.postMessage({ type, id });
    });
  }

  async snapshot(): Promise<Snapshot> {
    return (this.last = await this.ask("snapshot"));
  }

  async stop(): Promise<Snapshot> {
    if (!this.worker) return this.last ?? emptySnapshot();
    this.last = await this.ask("stop");
    await this.worker.terminate();
    this.worker = undefined;
    return this.last;
  }
}

function emptySnapshot(): Snapshot {
  return { at: Date.now(), samples: 0, worstGapMs: 0, children: [], tasks: [], overlaps: [] };
}

/** Children running at the latest sample. */
export function runningChildren(s: Snapshot): ChildRecord[] {
  return s.children.filter((c) => c.open);
}

/** One line per child: node, epoch, pid and its running intervals relative to `t0`. */
export function childTimeline(s: Snapshot, t0 = 0): string {
  return s.children
    .map((c) => {
      const spans = c.intervals.map(([a, b]) => `${a - t0}..${b - t0}`).join(", ");
      return `  child pid ${c.pid} of ${c.node} epoch ${c.epoch}: running ${spans || "never"}${c.goneAt ? `, gone at ${c.goneAt - t0}` : ""}`;
    })
    .join("\n");
}

/**
 * Starts of a child that the sampler cannot vouch for: the sample before it, more than `maxGapMs`
 * earlier, saw another child running. Both the other's stop and this one's start fell into one gap of
 * the sampler (a stalled machine), so an overlap between them would not have been seen.
 */
export function unverifiedHandovers(s: Snapshot, maxGapMs = 100): string[] {
  const out: string[] = [];
  for (const c of s.children) {
    for (const [start, , before] of c.intervals) {
      if (!before || start - before <= maxGapMs) continue;
      const other = s.children.find((o) => o.key !== c.key && o.intervals.some(([a, b]) => a <= before && before <= b));
      if (other) out.push(`pid ${other.pid} of ${other.node} was last seen running ${start - before} ms before pid ${c.pid} of ${c.node} was first seen`);
    }
  }
  return out;
}

/**
 * An overlap of children that a scenario expects and accepts, narrowly: only the child `key`, only
 * at samples within [from, from + maxMs]. The scenario must separately check that this child
 * committed nothing (see scenario 5).
 */
export interface OverlapAllowance {
  key: string;
  from: number;
  maxMs: number;
  why: string;
}

/** Samples at which two children were running, minus those the allowance covers. */
export function childOverlaps(s: Snapshot, allow?: OverlapAllowance): Array<{ at: number; children: ChildRecord[] }> {
  const byKey = new Map(s.children.map((c) => [c.key, c]));
  return s.overlaps
    .filter((o) => {
      if (!allow) return true;
      const others = o.keys.filter((k) => k !== allow.key);
      const covered = o.keys.includes(allow.key) && others.length === 1 && o.at >= allow.from && o.at <= allow.from + allow.maxMs;
      return !covered;
    })
    .map((o) => ({ at: o.at, children: o.keys.map((k) => byKey.get(k)!) }));
}

// ---------------------------------------------------------------------------------------------
// One controller

export interface LogLine {
  /** When the test process read the line (this machine's clock, comparable with the sampler's). */
  seenAt: number;
  msg?: string;
  [field: string]: unknown;
}

export interface NodeOptions {
  priority?: number;
  noPreempt?: boolean;
  /** The DB URL this node uses (default: the cluster's direct URL), e.g. a TCP proxy's. */
  databaseUrl?: string;
  /** Extra environment (LD_PRELOAD and FAKETIME for a skewed clock, a wrong ALOFT_HA_SECRET…). */
  env?: NodeJS.ProcessEnv;
  /** Run `aloft controller --name NAME … -- COMMAND` instead of `aloft scheduler`. */
  controller?: { name: string; command: string[]; healthCmd?: string; healthUrl?: string };
}

export class HaNode {
  readonly home: string;
  private process?: ChildProcess;
  stderr = "";
  stdout = "";
  readonly lines: LogLine[] = [];
  exitCode: number | null | undefined = undefined;
  exitSignal: NodeJS.Signals | null = null;
  startedAt = 0;
  exitedAt = 0;
  private partial = "";

  constructor(
    readonly cluster: HaCluster,
    readonly id: string,
    readonly options: NodeOptions = {},
  ) {
    this.home = tempDir(`ha-${id}`);
  }

  get priority(): number {
    return this.options.priority ?? 100;
  }

  /** Starts the controller; returns at once (see waitForRole / waitForLog). */
  start(): void {
    const generic = this.options.controller;
    const args = generic
      ? [BIN, "controller", "--name", generic.name, "--node-id", this.id, "--priority", String(this.priority)]
      : [BIN, "scheduler", "--node-id", this.id, "--priority", String(this.priority), "--port", "0"];
    if (this.options.noPreempt) args.push("--no-preempt");
    if (generic?.healthCmd) args.push("--health-cmd", generic.healthCmd);
    if (generic?.healthUrl) args.push("--health-url", generic.healthUrl);
    if (generic) args.push("--", ...generic.command);
    this.stderr = "";
    this.stdout = "";
    this.lines.length = 0;
    this.exitCode = undefined;
    this.exitSignal = null;
    this.startedAt = Date.now();
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        ALOFT_LOG_LEVEL: "info",
        ...timingEnv(),
        ALOFT_HOME: this.home,
        ALOFT_DATABASE_URL: this.options.databaseUrl ?? this.cluster.databaseUrl,
        ALOFT_HA_SECRET: HA_SECRET,
        ALOFT_SECRET_KEY: "the same key on every node",
        ALOFT_TEST_HA_TAG: this.cluster.tag,
        ...this.options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    child.stdout!.on("data", (d: Buffer) => (this.stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => this.onStderr(d.toString()));
    child.on("exit", (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      this.exitedAt = Date.now();
    });
  }

  private onStderr(text: string): void {
    this.stderr += text;
    const now = Date.now();
    const chunks = (this.partial + text).split("\n");
    this.partial = chunks.pop() ?? "";
    for (const raw of chunks) {
      if (!raw.trim()) continue;
      try {
        const parsed = JSON.parse(raw) as Record<string, unknown>;
        this.lines.push({ ...parsed, seenAt: now });
      } catch {
        this.lines.push({ seenAt: now, msg: undefined, raw });
      }
    }
  }

  get pid(): number {
    return this.process!.pid!;
  }

  get running(): boolean {
    return this.process !== undefined && this.exitCode === undefined;
  }

  /** Log lines whose msg contains `text`. */
  logs(text: string): LogLine[] {
    return this.lines.filter((l) => typeof l.msg === "string" && l.msg.includes(text));
  }

  /** Waits for a log line (after index `fromIndex` of this.lines) whose msg contains `text`. */
  waitForLog(text: string, timeoutMs = 15_000, fromIndex = 0, where?: (l: LogLine) => boolean): Promise<LogLine> {
    return waitFor(
      `${this.id} to log "${text}"`,
      async () => {
        const hit = this.lines.slice(fromIndex).find((l) => typeof l.msg === "string" && l.msg.includes(text) && (!where || where(l)));
        if (hit) return hit;
        if (this.exitCode !== undefined) throw new Error(`${this.id} exited (${this.exitCode ?? this.exitSignal}) before logging "${text}":\n${this.tail()}`);
        return undefined;
      },
      timeoutMs,
      50,
    );
  }

  /** The last `n` lines of stderr, for failure messages. */
  tail(n = 25): string {
    return this.stderr.split("\n").slice(-n).join("\n");
  }

  /** The pid of its current child per its own log ("child started" not yet followed by "child exited"). */
  childPidFromLog(): number | undefined {
    let pid: number | undefined;
    for (const line of this.lines) {
      if (line.msg === "child started") pid = Number(line.pid);
      if (line.msg === "child exited" && Number(line.pid) === pid) pid = undefined;
    }
    return pid;
  }

  /** Whether the node is active per its own log (the last of "became active" / "lost leadership"). */
  activeByLog(): boolean {
    let active = false;
    for (const line of this.lines) {
      if (line.msg === "became active") active = true;
      if (line.msg === "lost leadership") active = false;
    }
    return active && this.running;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, signal);
  }

  /** Waits for the controller to exit; SIGKILL after `timeoutMs`. Returns the exit code (null: by signal). */
  async waitForExit(timeoutMs = 20_000): Promise<number | null> {
    const child = this.process;
    if (!child) return null;
    if (this.exitCode !== undefined) return this.exitCode;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await new Promise<void>((resolve) => child.once("exit", () => resolve()));
    clearTimeout(timer);
    return this.exitCode ?? null;
  }

  /** SIGCONT (in case it is stopped) and SIGKILL; waits for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(this.pid, "SIGCONT");
    } catch {
      // gone already
    }
    this.signal("SIGKILL");
    await this.waitForExit(10_000);
  }
}

// ---------------------------------------------------------------------------------------------
// The workload

const WORKLOAD_DAGS = ["ha_chain", "ha_fan"] as const;
export const CONTINUOUS_DAG = "ha_loop";

/**
 * Two triggered DAGs (a chain of three tasks, a fan-out of three) and one "@continuous" DAG; bash
 * tasks of 0.2 to 1.5 s, with retries, each appending its (dag, run, task, try) to the marks file as
 * it starts and to the done file as it ends.
 */
function workloadDags(marks: string, done: string): Record<string, string> {
  const line = `"$ALOFT_DAG_ID $ALOFT_RUN_ID $ALOFT_TASK_ID $ALOFT_TRY_NUMBER"`;
  const task = (seconds: number) => `echo ${line} >> ${marks}; sleep ${seconds}; echo ${line} >> ${done}`;
  return {
    "ha_workload.ts": `
import { bash, dag } from "aloft";
const defaults = { retries: 4, retryDelay: "1s" };
dag("ha_chain", { schedule: null, defaults, maxActiveRuns: 8 }, () => {
  bash("a", ${JSON.stringify(task(0.3))}).then(bash("b", ${JSON.stringify(task(0.8))})).then(bash("c", ${JSON.stringify(task(0.5))}));
});
dag("ha_fan", { schedule: null, defaults, maxActiveRuns: 8 }, () => {
  const start = bash("start", ${JSON.stringify(task(0.2))});
  const join = bash("join", ${JSON.stringify(task(0.2))});
  for (const [id, s] of [["f1", 0.4], ["f2", 1.0], ["f3", 1.5]] as const) {
    start.then(bash(id, ${JSON.stringify(`echo ${line} >> ${marks}; sleep `)} + s + ${JSON.stringify(`; echo ${line} >> ${done}`)})).then(join);
  }
});
dag("${CONTINUOUS_DAG}", { schedule: "@continuous", start: "2024-01-01", maxActiveRuns: 1, defaults }, () => {
  bash("tick", ${JSON.stringify(task(0.5))});
});
`,
  };
}

interface RunRow {
  dag_id: string;
  run_id: string;
  state: string;
  created_at: number;
}

// ---------------------------------------------------------------------------------------------
// The cluster

export interface DatabaseLike {
  dialect: "postgres" | "mysql" | "sqlite";
  url: string;
  drop(): Promise<void>;
}

export class HaCluster {
  readonly tag = crypto.randomBytes(6).toString("hex");
  readonly sampler = new ChildSampler(this.tag);
  readonly nodes: HaNode[] = [];
  readonly work = tempDir("ha-work");
  readonly marksFile = path.join(this.work, "marks.txt");
  readonly doneFile = path.join(this.work, "done.txt");
  readonly cliHome = tempDir("ha-cli");
  readonly t0 = Date.now();
  private storeHandle?: Store;
  private triggering?: Promise<void>;
  private stopTriggering = false;
  /** Runs the workload loop triggered (run ids), and trigger calls that failed (message). */
  readonly triggered: Array<{ dag: string; runId: string; at: number }> = [];
  readonly triggerFailures: string[] = [];
  /** Set by `final()` */
  snapshotAtEnd?: Snapshot;

  constructor(readonly database: DatabaseLike) {
    liveTags.add(this.tag);
  }

  get databaseUrl(): string {
    return this.database.url;
  }

  get store(): Store {
    if (!this.storeHandle) throw new Error("call setup() first");
    return this.storeHandle;
  }

  cliEnv(): NodeJS.ProcessEnv {
    return { ALOFT_HOME: this.cliHome, ALOFT_DATABASE_URL: this.databaseUrl, ALOFT_SECRET_KEY: "the same key on every node", ALOFT_LOG_LEVEL: "warn" };
  }

  cli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
    return runCli(args, this.cliEnv(), timeoutMs);
  }

  /** Migrates the DB, deploys the workload (`aloft deploy`), starts the sampler. */
  async setup(options: { workload?: boolean } = {}): Promise<void> {
    this.storeHandle = await openStore(this.databaseUrl, { poolSize: 2 });
    await migrate(this.storeHandle); // in process: a CLI call costs a second or more on a loaded machine
    if (options.workload !== false) {
      const dags = path.join(this.work, "dags");
      fs.mkdirSync(dags);
      for (const [name, code] of Object.entries(workloadDags(this.marksFile, this.doneFile))) fs.writeFileSync(path.join(dags, name), code);
      const deployed = await this.cli(["deploy", dags, "--json"]);
      if (deployed.code !== 0) throw new Error(`aloft deploy failed: ${deployed.stderr}${deployed.stdout}`);
    }
    this.sampler.start();
    trace(this, "setup done");
  }

  node(id: string, options: NodeOptions = {}): HaNode {
    const node = new HaNode(this, id, options);
    this.nodes.push(node);
    return node;
  }

  /** Creates and starts nodes; waits until exactly one of them is active with a running child. */
  async startNodes(specs: Array<[string, NodeOptions?]>): Promise<HaNode[]> {
    const nodes = specs.map(([id, options]) => this.node(id, options));
    for (const n of nodes) n.start();
    await this.waitForLeader();
    return nodes;
  }

  /** `aloft ha status --json`. */
  async status(cluster = "scheduler"): Promise<HaStatus> {
    const result = await this.cli(["ha", "status", "--json", "--name", cluster]);
    if (result.code !== 0) throw new Error(`aloft ha status exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as HaStatus;
  }

  /** The live lease of the scheduler cluster, read from the DB (fast; `status()` is what users see). */
  async lease(): Promise<{ holder: string; epoch: number; expiresAt: number } | undefined> {
    const result = await sql<{ holder: string; epoch: number; expires_at: number }>`select holder, epoch, expires_at from scheduler_lease where name = 'scheduler'`.execute(this.store.db);
    const row = result.rows[0];
    // The DB runs on this machine: its clock is the test's.
    return row && Number(row.expires_at) > Date.now() ? { holder: row.holder, epoch: Number(row.epoch), expiresAt: Number(row.expires_at) } : undefined;
  }

  /**
   * Waits until one node holds the lease, it is one of ours and running, and its child is running
   * per the sampler; returns it. `not`: a node that must not be the one (a deposed leader); `be`: the
   * node that must be.
   */
  async waitForLeader(options: { not?: HaNode; timeoutMs?: number; be?: HaNode } = {}): Promise<{ node: HaNode; epoch: number; child: ChildRecord }> {
    let seen = "nothing yet";
    return waitFor(
      options.be ? `${options.be.id} to be the active node with a running child` : "one active node with a running child",
      async () => {
        const lease = await this.lease().catch((error: Error) => {
          seen = `the lease could not be read: ${error.message}`;
          return null;
        });
        if (lease === null) return undefined;
        const snap = await this.sampler.snapshot();
        seen = `lease ${JSON.stringify(lease)}; children running: ${runningChildren(snap).map((c) => `${c.node}:${c.pid}`).join(", ") || "none"}`;
        if (!lease) return undefined;
        const node = this.nodes.find((n) => n.id === lease.holder && n.running);
        if (!node || node === options.not || (options.be && node !== options.be)) return undefined;
        const child = runningChildren(snap).find((c) => c.node === node.id);
        return child ? { node, epoch: lease.epoch, child } : undefined;
      },
      options.timeoutMs ?? 30_000,
      50,
    ).then(
      (found) => {
        trace(this, `leader ${found.node.id} with child ${found.child.pid}`);
        return found;
      },
      (error: Error) => {
        throw new Error(`${error.message}; last seen: ${seen}`);
      },
    );
  }

  /** The child of `node` running at the latest sample (undefined: none). */
  async childOf(node: HaNode): Promise<ChildRecord | undefined> {
    const snap = await this.sampler.snapshot();
    return runningChildren(snap).find((c) => c.node === node.id);
  }

  /** Waits for no child of `node` to be present (running or stopped) per the sampler. */
  async waitForNoChild(node: HaNode, timeoutMs = 10_000): Promise<Snapshot> {
    return waitFor(
      `no child of ${node.id} left`,
      async () => {
        const snap = await this.sampler.snapshot();
        return snap.children.some((c) => c.node === node.id && c.goneAt === null) ? undefined : snap;
      },
      timeoutMs,
      20,
    );
  }

  // ---- workload

  /**
   * Triggers a run of a workload DAG every `everyMs` through the CLI until `stopWorkload()` (each CLI
   * call costs about a second of CPU: more often would load a 2-core machine for nothing; the
   * continuous DAG keeps the scheduler busy in between).
   */
  startWorkload(everyMs = 2500): void {
    this.stopTriggering = false;
    this.triggering = (async () => {
      let i = 0;
      while (!this.stopTriggering) {
        const dag = WORKLOAD_DAGS[i++ % WORKLOAD_DAGS.length]!;
        const result = await this.cli(["dags", "trigger", dag, "--json"], 20_000).catch((e: Error) => ({ code: -1, stdout: "", stderr: e.message }));
        if (result.code === 0) this.triggered.push({ dag, runId: (JSON.parse(result.stdout) as { run_id: string }).run_id, at: Date.now() });
        else this.triggerFailures.push(`${dag}: ${result.stderr.trim().split("\n").pop()}`);
        const deadline = Date.now() + everyMs;
        while (!this.stopTriggering && Date.now() < deadline) await sleep(50);
      }
    })();
  }

  async stopWorkload(): Promise<void> {
    this.stopTriggering = true;
    await this.triggering;
  }

  /** Waits until `n` more workload tasks have finished (done-file lines) than now. */
  async waitForProgress(n: number, timeoutMs = 30_000): Promise<void> {
    const base = this.doneLines().length;
    await waitFor(`${n} more workload tasks to finish`, async () => (this.doneLines().length >= base + n ? true : undefined), timeoutMs, 100);
    trace(this, `${n} more tasks finished`);
  }

  marks(): string[] {
    return fs.existsSync(this.marksFile) ? fs.readFileSync(this.marksFile, "utf8").split("\n").filter(Boolean) : [];
  }

  doneLines(): string[] {
    return fs.existsSync(this.doneFile) ? fs.readFileSync(this.doneFile, "utf8").split("\n").filter(Boolean) : [];
  }

  async runs(): Promise<RunRow[]> {
    return (await this.store.db.selectFrom("dag_run").select(["dag_id", "run_id", "state", "created_at"]).orderBy("id").execute()) as RunRow[];
  }

  /**
   * Stops triggering and waits (up to `timeoutMs`) for every run to finish: each triggered or
   * scheduled run, except the newest run of the continuous DAG, which may still be going.
   */
  async drain(timeoutMs = 60_000): Promise<RunRow[]> {
    await this.stopWorkload();
    let last: RunRow[] = [];
    try {
      await waitFor(
        "every DAG run to finish",
        async () => {
          last = await this.runs();
          return unfinished(last).length === 0 ? true : undefined;
        },
        timeoutMs,
        300,
      );
    } catch {
      // reported by invariants()
    }
    trace(this, `drained (${last.length} runs)`);
    return last;
  }

  /**
   * The invariants of every scenario, as a list of violations (empty: all hold):
   * - never two children running at the same sample (but for `allow`);
   * - no (dag, run, task, try) line twice in the marks file;
   * - no two task processes of one task instance running at once (a task executed twice);
   * - every run the workload triggered exists and every run finished with success.
   */
  async invariants(options: { allow?: OverlapAllowance; drainMs?: number; minRuns?: number } = {}): Promise<string[]> {
    // A short scenario on a busy machine may end before the workload triggered enough runs to judge:
    // let it trigger them (the check below still needs them to succeed).
    if (this.triggering && !this.stopTriggering) {
      await waitFor("the workload to trigger enough runs", async () => (this.triggered.length >= (options.minRuns ?? 2) ? true : undefined), 60_000, 200).catch(() => undefined);
    }
    const runs = await this.drain(options.drainMs ?? 60_000);
    const snap = await this.sampler.snapshot();
    this.snapshotAtEnd = snap;
    const violations: string[] = [];

    const overlaps = childOverlaps(snap, options.allow);
    if (overlaps.length > 0) {
      const first = overlaps[0]!;
      violations.push(
        `${overlaps.length} samples with two children running, first at +${first.at - this.t0} ms: ` +
          first.children.map((c) => `pid ${c.pid} of ${c.node} (epoch ${c.epoch})`).join(" and ") +
          `\n${childTimeline(snap, this.t0)}`,
      );
    }

    const counts = new Map<string, number>();
    for (const line of this.marks()) counts.set(line, (counts.get(line) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([line, n]) => `${line} (${n} times)`);
    if (twice.length > 0) violations.push(`task tries executed more than once (marks file): ${twice.slice(0, 10).join("; ")}`);

    const concurrent = concurrentExecutions(snap.tasks);
    if (concurrent.length > 0) violations.push(`one task instance executing twice at once: ${concurrent.slice(0, 5).join("; ")}`);

    const known = new Set(runs.map((r) => `${r.dag_id} ${r.run_id}`));
    const missing = this.triggered.filter((t) => !known.has(`${t.dag} ${t.runId}`));
    if (missing.length > 0) violations.push(`triggered runs missing from the DB: ${missing.map((m) => m.runId).join(", ")}`);
    const open = unfinished(runs);
    if (open.length > 0) violations.push(`runs not finished ${options.drainMs ?? 60_000} ms after the workload stopped: ${open.map((r) => `${r.dag_id}/${r.run_id}=${r.state}`).join(", ")}`);
    const failed = runs.filter((r) => r.state === "failed");
    if (failed.length > 0) violations.push(`runs that failed: ${failed.map((r) => `${r.dag_id}/${r.run_id}`).join(", ")}`);
    const succeeded = runs.filter((r) => r.state === "success" && r.dag_id !== CONTINUOUS_DAG).length;
    if (succeeded < (options.minRuns ?? 2)) violations.push(`only ${succeeded} triggered runs succeeded: the workload barely ran`);
    const unverified = unverifiedHandovers(snap);
    if (unverified.length > 0) violations.push(`handovers the /proc sampler stalled over (an overlap could have gone unseen): ${unverified.join("; ")}`);
    return violations;
  }

  /** A summary for failure messages: nodes' roles per their logs, children timeline, log tails. */
  describe(): string {
    const snap = this.snapshotAtEnd;
    return [
      `cluster ${this.tag} on ${this.database.dialect}${snap ? ` (sampler: ${snap.samples} samples, longest gap ${snap.worstGapMs} ms)` : ""}`,
      snap ? childTimeline(snap, this.t0) : "",
      ...this.nodes.map((n) => `--- ${n.id} (pid ${n.running || n.exitCode !== undefined ? n.pid : "-"}, exit ${n.exitCode ?? n.exitSignal ?? "running"}) last lines:\n${n.tail(15)}`),
    ].join("\n");
  }

  /** Writes every node's whole log (with the test's clock, ms since the cluster was made) to a folder that outlives the test. */
  keepLogs(): string {
    const dir = path.join(os.tmpdir(), "aloft-ha-failures", `${this.database.dialect}-${this.tag}`);
    fs.mkdirSync(dir, { recursive: true });
    this.nodes.forEach((n, i) => {
      const lines = n.lines.map((l) => `+${l.seenAt - this.t0} ${JSON.stringify(l)}`);
      fs.writeFileSync(path.join(dir, `${i}-${n.id}.log`), lines.join("\n") + "\n");
    });
    if (this.snapshotAtEnd) fs.writeFileSync(path.join(dir, "children.txt"), childTimeline(this.snapshotAtEnd, this.t0) + "\n");
    return dir;
  }

  /** Kills every process of this cluster (controllers, children, tasks), stops the sampler, drops the DB. */
  async teardown(options: { dropDatabase?: boolean } = {}): Promise<void> {
    this.stopTriggering = true;
    await Promise.all(this.nodes.map((n) => n.kill()));
    killTagged(this.tag);
    await this.triggering?.catch(() => undefined);
    await sleep(100);
    killTagged(this.tag);
    liveTags.delete(this.tag);
    await this.sampler.stop();
    await this.storeHandle?.close().catch(() => undefined);
    trace(this, "processes stopped");
    if (options.dropDatabase !== false) await this.database.drop().catch(() => undefined);
    trace(this, "torn down");
    for (const dir of [this.work, this.cliHome, ...this.nodes.map((n) => n.home)]) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Tags of clusters not yet torn down: if the test process ends early, their processes go with it. */
const liveTags = new Set<string>();
process.once("exit", () => {
  for (const tag of liveTags) killTagged(tag);
});

function unfinished(runs: RunRow[]): RunRow[] {
  const newestLoop = runs.filter((r) => r.dag_id === CONTINUOUS_DAG).at(-1);
  return runs.filter((r) => r.state !== "success" && r.state !== "failed" && r !== newestLoop);
}

/** Task instances two of whose task processes (different tries, or the same try twice) were alive at once. */
export function concurrentExecutions(tasks: TaskProcess[]): string[] {
  // Only the top process of a try counts (its `sleep` is a descendant with the same environment).
  const tops = tasks.filter((t) => !tasks.some((o) => o.pid === t.ppid && o.dag === t.dag && o.run === t.run && o.task === t.task && o.tryNumber === t.tryNumber));
  const byInstance = new Map<string, TaskProcess[]>();
  for (const t of tops) {
    const key = `${t.dag} ${t.run} ${t.task}`;
    byInstance.set(key, [...(byInstance.get(key) ?? []), t]);
  }
  const out: string[] = [];
  for (const [key, procs] of byInstance) {
    for (let i = 0; i < procs.length; i++) {
      for (let j = i + 1; j < procs.length; j++) {
        const a = procs[i]!;
        const b = procs[j]!;
        if (a.firstSeen <= b.lastSeen && b.firstSeen <= a.lastSeen) {
          out.push(`${key}: try ${a.tryNumber} (pid ${a.pid}, node ${a.node}) and try ${b.tryNumber} (pid ${b.pid}, node ${b.node})`);
        }
      }
    }
  }
  return out;
}

/** SIGKILLs every process whose environment carries this cluster's tag (only ever ours). */
export function killTagged(tag: string): number[] {
  const needle = `ALOFT_TEST_HA_TAG=${tag}\0`;
  const killed: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let env: string;
    try {
      env = fs.readFileSync(`/proc/${entry}/environ`, "latin1") + "\0";
    } catch {
      continue;
    }
    if (!env.includes(needle)) continue;
    try {
      process.kill(Number(entry), "SIGCONT");
      process.kill(Number(entry), "SIGKILL");
      killed.push(Number(entry));
    } catch {
      // gone
    }
  }
  return killed;
}

// ---------------------------------------------------------------------------------------------
// Scenario helpers

/** Starts `first` and waits until it is active with a child; then starts the others and waits for them to be standby. */
export async function leaderThenStandbys(cluster: HaCluster, first: HaNode, ...others: HaNode[]): Promise<void> {
  first.start();
  await first.waitForLog("became active", 30_000);
  for (const node of others) node.start();
  await Promise.all([cluster.waitForLeader({ be: first }), ...others.map((n) => n.waitForLog("standby", 30_000))]);
}

/** Asserts no invariant is violated, with the cluster's timeline and logs in the message. */
export function assertInvariants(cluster: HaCluster, violations: string[]): void {
  assert.deepEqual(violations, [], `invariants violated:\n${violations.join("\n")}\n\n${cluster.describe()}`);
}

/** Runs `fn`; a failure carries the cluster's timeline and log tails. */
export async function withCluster(cluster: HaCluster, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const kept = cluster.keepLogs();
    const message = error instanceof Error ? error.message : String(error);
    // A new error: the test runner prints an AssertionError's own message and diff, not a changed one.
    throw new Error(`${message}\n\n${cluster.describe()}\n(full logs of every node: ${kept})`, { cause: error });
  }
}

