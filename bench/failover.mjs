/**
 * Failover figures of the HA scheduler: two `aloft scheduler` nodes (controllers) on one PostgreSQL
 * database, default HA settings, a small workload DAG deployed so the leader always has work.
 *
 *   takeover   kill -9 of the active controller → the other node's scheduling child logs
 *              "scheduling loop running" (after its first fenced commit). The killed node is started
 *              again as a standby before the next trial, so the kills alternate between the nodes.
 *   restart    kill -9 of the active node's scheduling child (`dist/ha/scheduler-child.js`) → the controller's
 *              "child started" (process started) and the new child's "scheduling loop running".
 *
 * Times: from Date.now() just before the kill to the `time` field (epoch ms, this machine's clock) of
 * the pino line in the node's log file. Between trials the bench waits for the cluster to settle
 * (`aloft ha status --json`), then a random 0–1 s more, so kills land at any point of the leader's
 * renew cycle (500 ms) and of the standby's poll (250 ms). Figures are printed, never asserted.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { machineBusy, startBusyCount } from "./lib/monitor.mjs";
import { aloft, execFileAsync, log, ROOT, scenarioEnv, sleep, startAloft, stopProcess, tail } from "./lib/processes.mjs";
import { freshPostgresDatabase, openBenchStore, summarize } from "./lib/runs.mjs";

export const FAILOVER_TRIALS = 20;
export const FAILOVER_TARGETS = { takeoverP99Ms: 3_000, restartP99Ms: 1_000 };
const FAILOVER_DB = "aloft_bench_failover";
const WORKLOAD_DAG = "bench_failover_workload";
/** The restart scenario's ha_restart_window_ms (default 60 000): see restartScenario. */
const RESTART_WINDOW_MS = 5_000;
const TRIAL_TIMEOUT_MS = 60_000;
const SETTLE_TIMEOUT_MS = 60_000;
const JITTER_MS = 1_000;
const PROBE = path.join(ROOT, "bench", "lib", "startup-probe.mjs");

// ---------------------------------------------------------------------------------------------
// Logs: pino JSON lines in each node's log file (the controller's and, inherited, its child's).

/** The JSON lines of `file` from byte `offset` on (whole lines only); non-JSON lines are skipped. */
function logLines(file, offset = 0) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const body = Buffer.from(text).subarray(offset).toString("utf8");
  const complete = body.slice(0, body.lastIndexOf("\n") + 1);
  const lines = [];
  for (const line of complete.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line));
    } catch {
      // a line of something else
    }
  }
  return lines;
}

const logSize = (file) => {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
};

/** Polls `file` from `offset` until `found(lines)` returns a value; throws after `timeoutMs`. */
async function waitForLog(file, offset, found, what, timeoutMs = TRIAL_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = found(logLines(file, offset));
    if (value) return value;
    await sleep(25);
  }
  throw new Error(`${what}: not in ${file} within ${timeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------------------------
// Processes

function processGone(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z"; // a zombie has exited
  } catch {
    return true;
  }
}

/** Pids of the `dist/ha/scheduler-child.js` processes whose parent is `pid`. */
function schedulingChildren(pid) {
  const found = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("scheduler-child.js")) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Resolves with the time (Date.now()) `pid` was first seen gone, polling every 5 ms; null after `timeoutMs`. */
async function watchExit(pid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (processGone(pid)) return Date.now();
    await sleep(5);
  }
  return null;
}

class Node {
  constructor(id, root, settings) {
    this.id = id;
    this.home = path.join(root, id);
    fs.mkdirSync(this.home, { recursive: true });
    this.env = scenarioEnv(this.home, settings);
    this.logFile = path.join(root, `${id}.log`);
    this.process = null;
  }

  get pid() {
    return this.process?.pid ?? null;
  }

  start() {
    this.process = startAloft(["scheduler", "--node-id", this.id, "--port", "0"], { env: this.env, logFile: this.logFile });
    return this.process;
  }

  alive() {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  async stop() {
    if (this.process) await stopProcess(this.process);
  }
}

/**
 * Starts `node` again at once after its controller was killed, as systemd would. (A controller whose
 * node id looks used by a live controller is refused and exits: it is started again, a few times.)
 */
async function restartNode(node) {
  for (let attempt = 1; ; attempt++) {
    const offset = logSize(node.logFile);
    const child = node.start();
    const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
    const joined = waitForLog(node.logFile, offset, (lines) => lines.find((l) => l.msg === "standby"), `${node.id} joining again`).then(
      () => "joined",
      (error) => error,
    );
    const outcome = await Promise.race([joined, exited]);
    if (outcome === "joined") return;
    if (outcome instanceof Error) throw outcome;
    if (attempt >= 5) throw new Error(`${node.id} could not join again (exit code ${outcome}); log ${node.logFile}`);
    log(`  ${node.id} exited with code ${outcome} on joining again (attempt ${attempt}); retrying in 1 s`);
    await sleep(1_000);
  }
}

async function haStatus(env) {
  return JSON.parse(await aloft(env, "ha", "status", "--json"));
}

/**
 * Waits until the cluster is steady: a live leader among `nodes` whose child is healthy and has logged
 * "scheduling loop running" for the lease's epoch, and every other node a standby seen just now.
 * Returns { status, leader, standbys }.
 */
async function settled(nodes, label) {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = "no status yet";
  while (Date.now() < deadline) {
    for (const node of nodes) {
      if (!node.alive()) throw new Error(`${label}: node ${node.id} exited (${node.process?.exitCode ?? node.process?.signalCode}); log ${node.logFile}`);
    }
    const status = await haStatus(nodes[0].env);
    const rows = new Map(status.nodes.map((n) => [n.node_id, n]));
    const leader = nodes.find((n) => status.leader?.node_id === n.id);
    const standbys = nodes.filter((n) => n !== leader);
    const leaderRow = leader && rows.get(leader.id);
    const running =
      leader &&
      logLines(leader.logFile).some((l) => l.msg === "scheduling loop running" && l.epoch === status.leader.epoch);
    const ready =
      leaderRow &&
      leaderRow.pid === leader.pid &&
      leaderRow.child_health === "healthy" &&
      leaderRow.child_pid !== null &&
      schedulingChildren(leader.pid).join() === String(leaderRow.child_pid) &&
      running &&
      standbys.every((s) => rows.get(s.id)?.role === "standby" && rows.get(s.id)?.pid === s.pid && rows.get(s.id).last_seen_ms_ago < 2_000);
    if (ready) return { status, leader, standbys };
    last = `leader ${status.leader?.node_id ?? "none"} (epoch ${status.epoch}); ` + status.nodes.map((n) => `${n.node_id}: ${n.role}, pid ${n.pid}, child ${n.child_pid} ${n.child_health}`).join("; ");
    await sleep(200);
  }
  throw new Error(`${label}: the cluster did not settle within ${SETTLE_TIMEOUT_MS / 1000} s (${last})`);
}

// ---------------------------------------------------------------------------------------------
// Setup: a fresh database, migrated, with a workload DAG deployed; two nodes.

function writeWorkloadDag(folder) {
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, `${WORKLOAD_DAG}.ts`),
    `import { dag, task } from "aloft";
// Keeps the leader busy through the failovers: a new run as soon as the previous one finished, with a
// try running most of the time. A killed scheduler's try fails with its runner; the next leader settles
// it and, the task having retries, tries it again.
dag(${JSON.stringify(WORKLOAD_DAG)}, { schedule: "@continuous", start: "2026-01-01", maxActiveRuns: 1 }, () => {
  task("work", () => new Promise((resolve) => setTimeout(() => resolve(Date.now()), 500)), { retries: 3, retryDelay: 1_000 });
});
`,
  );
}

async function startCluster(label, extraSettings, keep) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-bench-failover-"));
  const databaseUrl = await freshPostgresDatabase(FAILOVER_DB);
  const settings = { ALOFT_DATABASE_URL: databaseUrl, ALOFT_HA_SECRET: crypto.randomBytes(16).toString("hex"), ...extraSettings };
  const nodes = [new Node("node-a", root, settings), new Node("node-b", root, settings)];
  await aloft(nodes[0].env, "db", "migrate");
  const dags = path.join(root, "dags");
  writeWorkloadDag(dags);
  await aloft(nodes[0].env, "deploy", dags, "--message", "bench failover workload");
  // One node first, so it leads; then the standby.
  nodes[0].start();
  await waitForLog(nodes[0].logFile, 0, (lines) => lines.find((l) => l.msg === "scheduling loop running"), `${label}: node-a's first scheduling loop`);
  nodes[1].start();
  log(`${label}: nodes ${nodes.map((n) => `${n.id} pid ${n.pid}`).join(", ")}; logs in ${root}`);
  await settled(nodes, label);
  return { root, nodes, databaseUrl, keep };
}

async function stopCluster(cluster, failed) {
  await Promise.all(cluster.nodes.map((n) => n.stop()));
  if (!failed && !cluster.keep) fs.rmSync(cluster.root, { recursive: true, force: true });
}

/** DAG runs of the workload by state, and how many task tries were settled as orphaned. */
async function workloadSummary(databaseUrl) {
  const store = await openBenchStore(databaseUrl);
  try {
    const runs = await store.db
      .selectFrom("dag_run")
      .select((eb) => ["state", eb.fn.countAll().as("n")])
      .where("dag_id", "=", WORKLOAD_DAG)
      .groupBy("state")
      .execute();
    return Object.fromEntries(runs.map((r) => [r.state, Number(r.n)]));
  } finally {
    await store.close();
  }
}

const jitter = () => Math.floor(Math.random() * JITTER_MS);

/**
 * Something other than the bench changed the cluster during a trial (the database server is shared:
 * another deployment's controller ended a session, the server restarted…): the trial is run again.
 */
class Disturbed extends Error {}
const TRANSITIONS = new Set(["became active", "lost leadership", "child exited", "lost the connection to the metadata DB", "standby"]);

/** Throws Disturbed when a node logged a transition since `offsets` (before the bench's kill). */
function checkUndisturbed(nodes, offsets, what) {
  for (const [i, node] of nodes.entries()) {
    const line = logLines(node.logFile, offsets[i]).find((l) => TRANSITIONS.has(l.msg));
    if (line) throw new Disturbed(`${what}: ${node.id} logged "${line.msg}"${line.reason || line.err ? ` (${line.reason ?? line.err})` : ""} before the kill`);
  }
}

/** Runs `trial()` again (up to 3 times) when it was disturbed from outside; counts the disturbances in `disturbed`. */
async function undisturbed(trial, disturbed) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await trial();
    } catch (error) {
      if (!(error instanceof Disturbed) || attempt >= 3) throw error;
      log(`  disturbed from outside, run again: ${error.message}`);
      disturbed.push(error.message);
    }
  }
}
const timeOf = (lines, predicate) => lines.find(predicate)?.time ?? null;

// ---------------------------------------------------------------------------------------------
// 1. kill -9 of the active controller → first scheduling commit by the new leader

async function takeoverTrial(cluster, trial) {
  const { leader, standbys, status } = await settled(cluster.nodes, `takeover trial ${trial}`);
  const standby = standbys[0];
  const epoch = status.leader.epoch;
  const oldChild = status.nodes.find((n) => n.node_id === leader.id).child_pid;
  const offsets = cluster.nodes.map((n) => logSize(n.logFile));
  await sleep(jitter());
  checkUndisturbed(cluster.nodes, offsets, `takeover trial ${trial}`);
  const offset = logSize(standby.logFile);
  const childExit = watchExit(oldChild, 5_000);
  const controllerExit = new Promise((resolve) => leader.process.once("exit", resolve));
  const killedAt = Date.now();
  process.kill(leader.pid, "SIGKILL");
  const running = await waitForLog(
    standby.logFile,
    offset,
    (lines) => lines.find((l) => l.msg === "scheduling loop running" && l.epoch > epoch),
    `takeover trial ${trial}: ${standby.id}'s "scheduling loop running" after kill -9 of ${leader.id}`,
  );
  const lines = logLines(standby.logFile, offset);
  const becameActiveLine = lines.find((l) => l.msg === "became active");
  const becameActive = becameActiveLine.time;
  const childStarted = timeOf(lines, (l) => l.msg === "child started");
  const engineStarting = timeOf(lines, (l) => l.msg === "scheduling under the controller's lease");
  const childGoneAt = await childExit;
  await controllerExit;
  const result = {
    killed: leader.id,
    total: running.time - killedAt,
    detect: becameActive - killedAt,
    spawn: childStarted - becameActive,
    boot: engineStarting - childStarted,
    engine: running.time - engineStarting,
    childStartupMs: running.startup_ms,
    oldChildGone: childGoneAt === null ? null : childGoneAt - killedAt,
    reason: becameActiveLine.reason,
  };
  const lost = lines.find((l) => l.msg === "lost leadership" || l.msg === "lost the connection to the metadata DB");
  log(
    `takeover ${String(trial).padStart(2)}: kill -9 ${leader.id} → ${standby.id} loop running ${result.total} ms ` +
      `(detect ${result.detect}, spawn ${result.spawn}, child boot ${result.boot}, engine start ${result.engine}; old child gone after ${result.oldChildGone ?? "?"} ms)`,
  );
  // The killed node comes back as a standby (settled() waits for it before the next trial).
  await restartNode(leader);
  if (becameActiveLine.epoch !== epoch + 1 || lost) {
    throw new Disturbed(`takeover trial ${trial}: ${standby.id} became active at epoch ${becameActiveLine.epoch} (the killed leader had ${epoch})${lost ? ` and logged "${lost.msg}"` : ""}`);
  }
  return result;
}

async function takeoverScenario({ trials, keep }) {
  const label = "failover takeover";
  const busyBefore = await machineBusy(1_000);
  return withCluster(label, {}, keep, async (cluster) => {
    const busyDuring = startBusyCount();
    const results = [];
    const disturbed = [];
    for (let trial = 1; trial <= trials; trial++) results.push(await undisturbed(() => takeoverTrial(cluster, trial), disturbed));
    const busy = busyDuring();
    await settled(cluster.nodes, label);
    return { results, disturbed, busyBefore, busyDuring: busy, workload: await workloadSummary(cluster.databaseUrl) };
  });
}

/** Runs `scenario` on a new cluster, always stopped after; on failure, the nodes' last log lines first. */
async function withCluster(label, env, keep, scenario) {
  const cluster = await startCluster(label, env, keep);
  let failed = false;
  try {
    return await scenario(cluster);
  } catch (error) {
    failed = true;
    for (const n of cluster.nodes) process.stdout.write(`last lines of ${n.logFile}:\n${tail(n.logFile, 15)}`);
    throw error;
  } finally {
    await stopCluster(cluster, failed);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. kill -9 of the active node's child → child running again on the same node
//
// The supervisor restarts a child at once only on its first failure within ha_restart_window_ms; later
// ones back off (250 ms, 500 ms, 1 s, 2 s, … up to 10 s) and after ha_max_restarts (5) the node gives
// up (src/ha/supervisor.ts onUnexpectedExit). Raising ha_max_restarts alone would time the backoff, not
// the restart. So this scenario shortens ha_restart_window_ms to RESTART_WINDOW_MS and kills the child
// only once that long has passed since the last kill: every kill is a first failure in its window,
// the path a one-off crash takes with the default 60 s window.

async function restartTrial(cluster, trial, kills, probes) {
  const { leader, status } = await settled(cluster.nodes, `restart trial ${trial}`);
  const epoch = status.leader.epoch;
  const oldChild = status.nodes.find((n) => n.node_id === leader.id).child_pid; // settled(): /proc agrees
  const offsets = cluster.nodes.map((n) => logSize(n.logFile));
  // While the restart window passes: the child's start-up, piece by piece, under the load of a steady cluster.
  for (const mode of trial % 2 ? ["cli", "child"] : ["child", "cli"]) probes[mode].push(await startupProbe(mode, cluster));
  await sleep(Math.max(0, kills.last + RESTART_WINDOW_MS + 200 - Date.now()) + jitter());
  checkUndisturbed(cluster.nodes, offsets, `restart trial ${trial}`);
  const offset = logSize(leader.logFile);
  const killedAt = Date.now();
  kills.last = killedAt;
  try {
    process.kill(oldChild, "SIGKILL");
  } catch (error) {
    throw new Disturbed(`restart trial ${trial}: the child ${oldChild} was gone before the kill (${error.code})`);
  }
  const started = await waitForLog(
    leader.logFile,
    offset,
    (lines) => lines.find((l) => l.msg === "child started" && l.pid !== oldChild),
    `restart trial ${trial}: ${leader.id}'s "child started" after kill -9 of its child ${oldChild}`,
  );
  const running = await waitForLog(
    leader.logFile,
    offset,
    (lines) => lines.find((l) => l.msg === "scheduling loop running" && l.time >= started.time),
    `restart trial ${trial}: ${leader.id}'s "scheduling loop running" after the restart`,
  );
  const lines = logLines(leader.logFile, offset);
  const exited = timeOf(lines, (l) => l.msg === "child exited" && l.pid === oldChild);
  const engineStarting = timeOf(lines, (l) => l.msg === "scheduling under the controller's lease" && l.time >= started.time);
  const restartLine = lines.find((l) => l.msg === "child exited; restarting it");
  const lost = lines.find((l) => l.msg === "lost leadership" || l.msg === "lost the connection to the metadata DB");
  if (running.epoch !== epoch || lost) {
    throw new Disturbed(`restart trial ${trial}: ${lost ? `${leader.id} logged "${lost.msg}"; ` : ""}epoch ${epoch} → ${running.epoch}: not a restart in place`);
  }
  if (restartLine?.restart_in_ms !== 0) {
    throw new Disturbed(`restart trial ${trial}: the child was restarted after a backoff of ${restartLine?.restart_in_ms} ms, not at once: another failure in the window`);
  }
  const result = {
    processStarted: started.time - killedAt,
    total: running.time - killedAt,
    noticed: exited - killedAt,
    spawn: started.time - exited,
    boot: engineStarting - started.time,
    engine: running.time - engineStarting,
    childStartupMs: running.startup_ms,
    restartDelayMs: restartLine?.restart_in_ms ?? null,
  };
  log(
    `restart  ${String(trial).padStart(2)}: kill -9 child ${oldChild} of ${leader.id} → process started ${result.processStarted} ms, loop running ${result.total} ms ` +
      `(exit noticed ${result.noticed}, respawn ${result.spawn}, child boot ${result.boot}, engine start ${result.engine}; restart delay ${result.restartDelayMs} ms)`,
  );
  return result;
}

async function restartScenario({ trials, keep }) {
  const label = "failover restart";
  const busyBefore = await machineBusy(1_000);
  return withCluster(label, { ALOFT_HA_RESTART_WINDOW_MS: String(RESTART_WINDOW_MS) }, keep, async (cluster) => {
    const results = [];
    const kills = { last: 0 };
    const busyDuring = startBusyCount();
    const probes = { cli: [], child: [] };
    const disturbed = [];
    for (let trial = 1; trial <= trials; trial++) {
      results.push(await undisturbed(() => restartTrial(cluster, trial, kills, probes), disturbed));
    }
    const busy = busyDuring();
    return { results, disturbed, probes, busyBefore, busyDuring: busy, workload: await workloadSummary(cluster.databaseUrl) };
  });
}

/** One run of bench/lib/startup-probe.mjs: { bootMs, importMs, importCpuMs, openStoreMs }. */
async function startupProbe(mode, cluster) {
  const { stdout } = await execFileAsync(process.execPath, [PROBE, mode, cluster.databaseUrl], { env: cluster.nodes[0].env, cwd: ROOT });
  return JSON.parse(stdout);
}

// ---------------------------------------------------------------------------------------------

/** Both failover scenarios; a failure of one is reported, the other still runs. */
export async function runFailover({ trials = FAILOVER_TRIALS, keep = false } = {}) {
  const out = { trials };
  for (const [name, scenario] of [
    ["takeover", takeoverScenario],
    ["restart", restartScenario],
  ]) {
    log(`failover: ${name}, ${trials} trials`);
    try {
      out[name] = await scenario({ trials, keep });
    } catch (error) {
      log(`failover ${name}: FAILED: ${error.message}`);
      out[name] = { error: error.message };
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

function row(label, values, target) {
  const s = summarize(values);
  const missed = target !== undefined && s.p99 > target;
  return [label, `${s.min}`, `${s.p50}`, `${s.p99}`, `${s.max}`, target === undefined ? "" : `p99 ≤ ${target} ${missed ? "MISSED" : "ok"}`];
}

/** Whether the killed controller's child was gone before the new leader's child was spawned, in every trial. */
function overlaps(results) {
  const unknown = results.filter((x) => x.oldChildGone === null).length;
  const overlapping = results.filter((x) => x.oldChildGone !== null && x.oldChildGone > x.detect + x.spawn).length;
  return `old child gone before the new one started: ${results.length - unknown - overlapping} of ${results.length} trials` + (unknown ? ` (${unknown} not seen exiting within 5 s)` : "");
}

const p50 = (values) => summarize(values).p50;
const p99 = (values) => summarize(values).p99;

export function printFailoverReport(failover, printRows) {
  const { trials } = failover;
  process.stdout.write(
    `\n== Failover (PostgreSQL, 2 \`aloft scheduler\` nodes on this machine, ${trials} trials each; ms) ==\n` +
      "HA settings: defaults (ha_lease_ms 10000, ha_renew_ms 500, ha_poll_ms 250); only ALOFT_HA_SECRET, --node-id, --port 0 and ALOFT_HOME are set per node;\n" +
      `the restart scenario alone sets ha_restart_window_ms ${RESTART_WINDOW_MS} (see below).\n\n`,
  );
  const rows = [["measure", "min", "p50", "p99", "max", "target"]];
  const { takeover: t, restart: r } = failover;
  if (t && !t.error) {
    const v = (k) => t.results.map((x) => x[k]);
    rows.push(row("kill -9 active controller → new leader's loop running", v("total"), FAILOVER_TARGETS.takeoverP99Ms));
    rows.push(row("  detection: kill → standby 'became active'", v("detect")));
    rows.push(row("  → 'child started' (spawn)", v("spawn")));
    rows.push(row("  → child's 'scheduling under the controller's lease'", v("boot")));
    rows.push(row("  → 'scheduling loop running' (engine start, first fenced commit)", v("engine")));
    rows.push(row("  old child gone (kill → its pid exits)", v("oldChildGone").filter((x) => x !== null)));
  }
  if (r && !r.error) {
    const v = (k) => r.results.map((x) => x[k]);
    rows.push(row("kill -9 active child → process started ('child started')", v("processStarted"), FAILOVER_TARGETS.restartP99Ms));
    rows.push(row("kill -9 active child → loop running ('scheduling loop running')", v("total"), FAILOVER_TARGETS.restartP99Ms));
    rows.push(row("  exit noticed: kill → 'child exited'", v("noticed")));
    rows.push(row("  → 'child started' (respawn)", v("spawn")));
    rows.push(row("  → child's 'scheduling under the controller's lease'", v("boot")));
    rows.push(row("  → 'scheduling loop running'", v("engine")));
  }
  if (rows.length > 1) printRows(rows);
  if (r && !r.error) {
    const probe = (mode, k) => r.probes[mode].map((x) => x[k]);
    process.stdout.write("\nA child's start-up in pieces, measured apart before each restart trial's kill (bench/lib/startup-probe.mjs), ms:\n");
    printRows([
      ["piece", "min", "p50", "p99", "max"],
      row("Node boot (uptime at the first line of user code)", probe("cli", "bootMs")).slice(0, 5),
      row("import dist/cli/main.js (every command; for comparison, the child does not load it)", probe("cli", "importMs")).slice(0, 5),
      row("  the same, CPU time (user + system)", probe("cli", "importCpuMs")).slice(0, 5),
      row("import the child's modules (config, logging, store, engine)", probe("child", "importMs")).slice(0, 5),
      row("  the same, CPU time (user + system)", probe("child", "importCpuMs")).slice(0, 5),
      row("openStore: pool + first query (select 1)", probe("cli", "openStoreMs")).slice(0, 5),
    ]);
  }
  process.stdout.write(
    `\nTimes run from Date.now() just before the kill to the \`time\` of the node's pino log line (same clock); p99 of ${trials} trials is their slowest.\n` +
      "Each kill waits for a settled cluster (`aloft ha status --json`: a healthy leader whose child logged \"scheduling loop running\", the other node standby), then 0–1 s at random.\n" +
      "Takeover: the killed controller's node is started again as a standby after each trial, so the kills alternate between the nodes;\n" +
      "  the standby sees a crashed leader when the leader's advisory lock is gone AND its lease was last renewed more than ha_renew_ms ago (checked every ha_poll_ms).\n" +
      `Restart: ha_restart_window_ms ${RESTART_WINDOW_MS} (default 60000), each kill ≥ ${RESTART_WINDOW_MS / 1000} s after the previous one: every kill is the first failure in its window,\n` +
      "  restarted at once, as a one-off crash is with the defaults. Repeated crashes within the window back off 250 ms, 500 ms, 1 s, 2 s; the 6th in 60 s gives up (ha_max_restarts 5).\n" +
      "  'child started' is logged once spawn() returned (the process exists, Node has not loaded Aloft yet); 'scheduling loop running' after the child's first fenced commit.\n",
  );
  for (const [name, s] of [
    ["takeover", t],
    ["restart", r],
  ]) {
    if (!s) continue;
    if (s.error) {
      process.stdout.write(`FAILED failover ${name}: ${s.error}\n`);
      continue;
    }
    const startup = s.results.map((x) => x.childStartupMs);
    if (s.disturbed.length > 0) {
      process.stdout.write(`${name}: ${s.disturbed.length} trial(s) disturbed from outside and run again:\n${s.disturbed.map((d) => `  ${d}\n`).join("")}`);
    }
    const runs = Object.entries(s.workload).map(([state, n]) => `${state} ${n}`).join(", ") || "none";
    process.stdout.write(
      `${name}: machine busy ${(s.busyBefore * 100).toFixed(0)} % of ${os.cpus().length} cores in the second before (others' load), ` +
        `${(s.busyDuring * 100).toFixed(0)} % during the trials (the nodes', the workload's and others'); child's own uptime at "loop running" p50 ${p50(startup)} ms, p99 ${p99(startup)} ms; ` +
        `workload DAG runs: ${runs}` +
        (name === "takeover" ? `; takeover reasons: ${[...new Set(s.results.map((x) => x.reason))].join(" | ")}; ${overlaps(s.results)}` : "") +
        "\n",
    );
  }
  process.stdout.write(
    "\nAnchors (../shared/reference/ha-anchors.md): the keepalived recipe measured on a machine like this one: kill -9 of the scheduler → 20–27 s until a scheduler runs again;\n" +
      "stopping the master's keepalived → 5–24 s (worst ≈ 31 s). ASFC defaults: takeover after 120 s (poll 60 s × 2), in-place restart waits 35 s.\n",
  );
}
