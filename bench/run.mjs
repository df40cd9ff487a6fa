#!/usr/bin/env node
/**
 * Aloft benchmark. Runs `aloft standalone` as a real process, on SQLite and on PostgreSQL, and measures
 *   1. task start latency along a chain of 200 function tasks,
 *   2. throughput of one run of root → 2,000 no-op function tasks → join,
 *   3. peak RSS of the standalone process (and, apart, of its runner children) during (2).
 * Figures are printed, never asserted: a missed target does not change the exit code.
 *
 * Usage: npm run bench [-- options]
 *   --only sqlite|postgres   one dialect only
 *   --parallelism 8,64       ALOFT_PARALLELISM values measured after the defaults (the headline);
 *                            default "8,64", "" for the defaults only
 *   --cpu-prof DIR           write a V8 CPU profile of each standalone process into DIR
 *   --build                  run `npm run build` first (done anyway when dist/ is missing)
 *   --keep                   keep the temporary ALOFT_HOME folders
 * Env BENCH_PG_URL: the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test). The bench
 * uses a database of its own, aloft_bench, dropped and created again for every scenario.
 * ALOFT_* variables of the calling shell are not passed on: scenarios run on Aloft's defaults.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs, promisify } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "bin", "aloft.js");
const PG_SERVER_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PG_BENCH_DB = "aloft_bench";

const CHAIN_DAG = "bench_chain";
const CHAIN_LENGTH = 200;
const FAN_DAG = "bench_fan";
const FAN_WIDTH = 2_000;

const TARGETS = { p50Ms: 10, p99Ms: 50, tasksPerS: { sqlite: 500, postgres: 1_000 }, rssMb: 200 };
const PARSE_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 120_000;
const SAMPLE_MS = 100;
const POLL_MS = 250;
const CLOCK_TICKS_PER_S = 100; // USER_HZ of /proc/<pid>/stat and /proc/stat

const execFileAsync = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);
const distModule = (relative) => import(pathToFileURL(path.join(ROOT, "dist", relative)).href);

// ---------------------------------------------------------------------------------------------
// Setup: build, DAG files, databases, ports

async function ensureBuilt(force) {
  if (!force && fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"))) return;
  log("building dist/ (npm run build)");
  await execFileAsync("npm", ["run", "build"], { cwd: ROOT });
}

/** Writes the two bench DAGs into `folder`. */
function writeDagFiles(folder) {
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, `${CHAIN_DAG}.ts`),
    `import { chain, dag, task } from "aloft";
// A chain of function tasks; each returns the time it started, so it lands in XCom.
dag(${JSON.stringify(CHAIN_DAG)}, { schedule: null }, () => {
  const tasks = [];
  for (let i = 0; i < ${CHAIN_LENGTH}; i++) tasks.push(task(\`t\${String(i).padStart(3, "0")}\`, () => Date.now()));
  chain(...tasks);
});
`,
  );
  fs.writeFileSync(
    path.join(folder, `${FAN_DAG}.ts`),
    `import { chain, dag, task } from "aloft";
// One root, ${FAN_WIDTH} no-op tasks side by side, one join. maxActiveTasks (Airflow's default 16)
// is lifted so that parallelism, not the per-DAG limit, bounds the run: the bench measures the engine.
dag(${JSON.stringify(FAN_DAG)}, { schedule: null, maxActiveTasks: ${FAN_WIDTH} }, () => {
  const middle = [];
  for (let i = 0; i < ${FAN_WIDTH}; i++) middle.push(task(\`w\${String(i).padStart(4, "0")}\`, () => {}));
  chain(task("root", () => {}), middle, task("join", () => {}));
});
`,
  );
}

/** Drops and creates the bench's own PostgreSQL database; returns its URL, or throws why it cannot. */
async function freshPostgresDatabase() {
  const { default: pg } = await import("pg");
  const admin = new URL(PG_SERVER_URL);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.href, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    await client.query(`drop database if exists ${PG_BENCH_DB} with (force)`);
    await client.query(`create database ${PG_BENCH_DB}`);
  } finally {
    await client.end();
  }
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${PG_BENCH_DB}`;
  return url.href;
}

/** Why PostgreSQL cannot be used, or null when it can. */
async function postgresUnavailable() {
  try {
    await freshPostgresDatabase();
    return null;
  } catch (error) {
    const reason = error.message || error.code || String(error);
    return `PostgreSQL at ${PG_SERVER_URL.replace(/\/\/[^@/]*@/, "//…@")} is unreachable: ${reason}`;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The environment of a scenario: the caller's, minus its ALOFT_* settings, plus the scenario's. */
function scenarioEnv(home, settings) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ALOFT_")));
  return { ...env, ALOFT_HOME: home, ...settings };
}

// ---------------------------------------------------------------------------------------------
// Processes: the CLI, the standalone server, cleanup

const children = new Set();

/** Runs one `aloft` CLI command to completion and returns its stdout. */
async function aloft(env, ...args) {
  const { stdout } = await execFileAsync(process.execPath, [CLI, ...args], { env, cwd: ROOT });
  return stdout;
}

/** Starts `aloft standalone`; its output goes to `logFile`. */
function startStandalone({ env, dagsFolder, port, logFile, cpuProfDir }) {
  const nodeFlags = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, [...nodeFlags, CLI, "standalone", "--dags", dagsFolder, "--port", String(port)], {
    env,
    cwd: ROOT,
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGTERM (a graceful stop, which stops the runners too), then SIGKILL after `graceMs`. */
async function stopProcess(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Last resort on exit or error: runners kill themselves when their parent goes away. */
function killAllNow() {
  for (const child of children) child.kill("SIGKILL");
}

// ---------------------------------------------------------------------------------------------
// Resources: /proc sampling of the standalone process, its runner children and the machine

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return null; // the process is gone
  }
}

function statusKb(pid, field) {
  const match = readProc(pid, "status")?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return match ? Number(match[1]) : 0;
}

/** utime + stime of a process in clock ticks, or null when it is gone. */
function cpuTicks(pid) {
  const stat = readProc(pid, "stat");
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy clock ticks of the whole machine, all cores. */
function machineBusyTicks() {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  return [user, nice, system, irq, softirq, steal].reduce((sum, v) => sum + Number(v), 0);
}

const runnerCache = new Map(); // pid → is it a runner (its command line does not change)

/** Pids of the runner processes forked by `pid`. */
function runnerPids(pid) {
  let threads = [];
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const kids = threads.flatMap((tid) => (readProc(pid, `task/${tid}/children`) ?? "").trim().split(/\s+/).filter(Boolean));
  return kids.map(Number).filter((kid) => {
    if (!runnerCache.has(kid)) runnerCache.set(kid, readProc(kid, "cmdline")?.includes("runner-child.js") ?? false);
    return runnerCache.get(kid);
  });
}

/**
 * Samples memory and CPU every SAMPLE_MS until stopped. stop() returns peak RSS in MB (the standalone
 * process; its runners summed) and the CPU seconds used since start by the standalone process, by its
 * runners (new ones from their birth, so their start-up counts) and by the whole machine.
 */
function startMonitor(pid) {
  runnerCache.clear();
  const started = Date.now();
  const machineStart = machineBusyTicks();
  const mainStart = cpuTicks(pid) ?? 0;
  const runnerStart = new Map(runnerPids(pid).map((r) => [r, cpuTicks(r) ?? 0]));
  const runnerLast = new Map(runnerStart);
  const peak = { mainRssMb: 0, runnersRssMb: 0, runners: 0 };
  let mainLast = mainStart;

  const sample = () => {
    peak.mainRssMb = Math.max(peak.mainRssMb, statusKb(pid, "VmRSS") / 1024);
    mainLast = cpuTicks(pid) ?? mainLast;
    const runners = runnerPids(pid);
    let summedKb = 0;
    for (const runner of runners) {
      summedKb += statusKb(runner, "VmRSS");
      runnerLast.set(runner, cpuTicks(runner) ?? runnerLast.get(runner) ?? 0);
    }
    peak.runnersRssMb = Math.max(peak.runnersRssMb, summedKb / 1024);
    peak.runners = Math.max(peak.runners, runners.length);
  };
  const timer = setInterval(sample, SAMPLE_MS);

  return function stop() {
    clearInterval(timer);
    sample();
    let runnerTicks = 0;
    for (const [runner, last] of runnerLast) runnerTicks += last - (runnerStart.get(runner) ?? 0);
    return {
      ...peak,
      mainHwmMb: statusKb(pid, "VmHWM") / 1024,
      cpu: {
        wallS: (Date.now() - started) / 1000,
        cores: os.cpus().length,
        mainS: (mainLast - mainStart) / CLOCK_TICKS_PER_S,
        runnersS: runnerTicks / CLOCK_TICKS_PER_S,
        machineS: (machineBusyTicks() - machineStart) / CLOCK_TICKS_PER_S,
      },
    };
  };
}

// ---------------------------------------------------------------------------------------------
// DB: polling and figures, through Aloft's own store so that both dialects read the same way

async function openBenchStore(url) {
  const { openStore } = await distModule("store/db.js");
  return openStore(url, { poolSize: 2 });
}

/** Waits until the processor has written both bench DAGs, or the standalone process dies. */
async function waitForDags(store, standalone) {
  const deadline = Date.now() + PARSE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (standalone.exitCode !== null) throw new Error(`standalone exited with code ${standalone.exitCode}`);
    const rows = await store.db
      .selectFrom("dag")
      .select("dag_id")
      .where("dag_id", "in", [CHAIN_DAG, FAN_DAG])
      .where("is_active", "=", 1)
      .execute();
    if (rows.length === 2) return;
    await sleep(200);
  }
  throw new Error(`the bench DAGs were not parsed within ${PARSE_TIMEOUT_MS / 1000} s`);
}

/** Triggers a run with the CLI and returns its dag_run id. */
async function trigger(env, store, dagId) {
  const { run_id: runId } = JSON.parse(await aloft(env, "dags", "trigger", dagId, "--json"));
  const row = await store.db
    .selectFrom("dag_run")
    .select("id")
    .where("dag_id", "=", dagId)
    .where("run_id", "=", runId)
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Polls the run until it finishes; logs task states every 2 s. Returns the run's final state. */
async function waitForRun(store, runId, standalone, label) {
  const started = Date.now();
  let lastReport = started;
  while (Date.now() - started < RUN_TIMEOUT_MS) {
    if (standalone.exitCode !== null) throw new Error(`standalone exited with code ${standalone.exitCode}`);
    const run = await store.db.selectFrom("dag_run").select("state").where("id", "=", runId).executeTakeFirstOrThrow();
    if (run.state === "success" || run.state === "failed") return run.state;
    if (Date.now() - lastReport >= 2_000) {
      lastReport = Date.now();
      const counts = await store.db
        .selectFrom("task_instance")
        .select((eb) => ["state", eb.fn.countAll().as("n")])
        .where("dag_run_id", "=", runId)
        .groupBy("state")
        .execute();
      const states = counts.map((c) => `${c.state ?? "none"}=${Number(c.n)}`).join(" ") || "no task instances yet";
      log(`  ${label}: run ${run.state} for ${((lastReport - started) / 1000).toFixed(0)} s; ${states}`);
    }
    await sleep(POLL_MS);
  }
  throw new Error(`${label}: the run did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) };
}

/**
 * Start latency of each chain task: its recorded start (XCom) minus its upstream's end_date. Also
 * splits it, by the DB's timestamps, into: upstream end → the scheduling pass that queued the task
 * (queued_at is that pass's clock), → the executor's claim (task_try.start_date), → the task's start.
 */
async function chainLatency(store, runId) {
  const rows = await store.db
    .selectFrom("task_instance as ti")
    .innerJoin("task_try as tt", (join) => join.onRef("tt.ti_id", "=", "ti.id").onRef("tt.try_number", "=", "ti.try_number"))
    .leftJoin("xcom as x", (join) => join.onRef("x.ti_id", "=", "ti.id").on("x.key", "=", "return_value"))
    .select(["ti.task_id", "ti.queued_at", "ti.end_date", "tt.start_date as claimed_at", "x.value"])
    .where("ti.dag_run_id", "=", runId)
    .orderBy("ti.task_id")
    .execute();
  if (rows.length !== CHAIN_LENGTH) throw new Error(`the chain run has ${rows.length} tries, not ${CHAIN_LENGTH}`);
  const total = [];
  const segments = { toPass: [], toClaim: [], toStart: [] };
  for (let i = 1; i < rows.length; i++) {
    const [upstream, ti] = [rows[i - 1], rows[i]];
    if (ti.value === null) throw new Error(`chain task ${ti.task_id} returned no start time`);
    const start = Number(JSON.parse(ti.value));
    total.push(start - Number(upstream.end_date));
    segments.toPass.push(Number(ti.queued_at) - Number(upstream.end_date));
    segments.toClaim.push(Number(ti.claimed_at) - Number(ti.queued_at));
    segments.toStart.push(start - Number(ti.claimed_at));
  }
  const median = (values) => summarize(values).p50;
  return {
    ...summarize(total),
    segments: { toPass: median(segments.toPass), toClaim: median(segments.toClaim), toStart: median(segments.toStart) },
  };
}

/** Tasks per second of a run: its task count over first queued_at → last end_date. */
async function runThroughput(store, runId) {
  const row = await store.db
    .selectFrom("task_instance")
    .select((eb) => [eb.fn.countAll().as("n"), eb.fn.min("queued_at").as("first"), eb.fn.max("end_date").as("last")])
    .where("dag_run_id", "=", runId)
    .executeTakeFirstOrThrow();
  const seconds = (Number(row.last) - Number(row.first)) / 1000;
  return { tasks: Number(row.n), seconds, perSecond: Number(row.n) / seconds };
}

// ---------------------------------------------------------------------------------------------
// One scenario: a fresh home and DB, one standalone process; the chain run, then the fan run twice
// (the second, on runners already started, is a diagnostic: it shows what runner start-up costs)

async function measureChain(ctx) {
  log(`${ctx.label}: chain of ${CHAIN_LENGTH} tasks`);
  const runId = await trigger(ctx.env, ctx.store, CHAIN_DAG);
  const state = await waitForRun(ctx.store, runId, ctx.standalone, `${ctx.label} chain`);
  const latency = await chainLatency(ctx.store, runId);
  log(`${ctx.label}: chain ${state}; start latency p50 ${latency.p50} ms, p99 ${latency.p99} ms`);
  return { state, latency };
}

async function measureFan(ctx, which) {
  log(`${ctx.label}: fan-out of ${FAN_WIDTH} tasks (${which})`);
  const stopMonitor = startMonitor(ctx.standalone.pid);
  const runId = await trigger(ctx.env, ctx.store, FAN_DAG);
  const state = await waitForRun(ctx.store, runId, ctx.standalone, `${ctx.label} fan`);
  const resources = stopMonitor();
  const throughput = await runThroughput(ctx.store, runId);
  log(`${ctx.label}: fan ${state}; ${throughput.perSecond.toFixed(0)} tasks/s, standalone peak RSS ${resources.mainRssMb.toFixed(0)} MB`);
  return { state, throughput, resources };
}

/**
 * @param {{ label: string, dialect: "sqlite"|"postgres", settings: Record<string,string>, cpuProfDir?: string, keep: boolean }} scenario
 */
async function runScenario(scenario) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-bench-"));
  const dagsFolder = path.join(home, "dags");
  const logFile = path.join(home, "standalone.log");
  writeDagFiles(dagsFolder);
  const settings = { ...scenario.settings };
  if (scenario.dialect === "postgres") settings.ALOFT_DATABASE_URL = await freshPostgresDatabase();
  const env = scenarioEnv(home, settings);
  await aloft(env, "db", "migrate");

  const port = await freePort();
  const standalone = startStandalone({ env, dagsFolder, port, logFile, cpuProfDir: scenario.cpuProfDir });
  log(`${scenario.label}: standalone pid ${standalone.pid}, port ${port}, home ${home}`);
  const store = await openBenchStore(settings.ALOFT_DATABASE_URL ?? `sqlite://${path.join(home, "aloft.db")}`);
  let failed = false;
  try {
    await waitForDags(store, standalone);
    const ctx = { label: scenario.label, env, store, standalone };
    const chain = await measureChain(ctx);
    const fan = await measureFan(ctx, "cold: the runner pool grows");
    const fanWarm = await measureFan(ctx, "again, on the runners already started");
    return { ...scenario, chain, fan, fanWarm, logFile };
  } catch (error) {
    failed = true;
    log(`${scenario.label}: FAILED: ${error.message}; last lines of ${logFile}:`);
    process.stdout.write(tail(logFile, 15));
    return { ...scenario, error: error.message, logFile };
  } finally {
    await store.close();
    await stopProcess(standalone);
    if (!failed && !scenario.keep) fs.rmSync(home, { recursive: true, force: true });
  }
}

function tail(file, lines) {
  try {
    return `${fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")}\n`;
  } catch {
    return "(no log)\n";
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const mark = (ok) => (ok ? "ok" : "MISSED");
const fixed = (n, digits = 0) => n.toFixed(digits);

function printRows(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  const line = (row) => row.map((cell, i) => (cell ?? "").padEnd(widths[i])).join("  ").trimEnd();
  process.stdout.write(`${line(rows[0])}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
}

/** The headline figures, against the targets. */
function figuresRow(r) {
  const l = r.chain.latency;
  const { throughput, resources: m } = r.fan;
  return [
    r.label,
    `${l.p50} ms ${mark(l.p50 <= TARGETS.p50Ms)}`,
    `${l.p95} ms`,
    `${l.p99} ms ${mark(l.p99 <= TARGETS.p99Ms)}`,
    `${l.max} ms`,
    `${fixed(throughput.perSecond)} ${mark(throughput.perSecond >= TARGETS.tasksPerS[r.dialect])}`,
    fixed(throughput.seconds, 2),
    `${fixed(m.mainRssMb)} MB ${mark(m.mainRssMb <= TARGETS.rssMb)}`,
    `${fixed(m.mainHwmMb)} MB`,
    `${fixed(m.runnersRssMb)} MB (${m.runners})`,
  ];
}

/** Where time and CPU went: chain latency by segment, CPU of the cold fan run, the warm fan run. */
function diagnosticsRow(r) {
  const s = r.chain.latency.segments;
  const { wallS, cores, mainS, runnersS, machineS } = r.fan.resources.cpu;
  const perTask = (cpuS) => `${fixed(cpuS, 2)} s = ${fixed((cpuS * 1000) / r.fan.throughput.tasks, 2)} ms/task`;
  return [
    r.label,
    `${s.toPass} / ${s.toClaim} / ${s.toStart} ms`,
    `${fixed(machineS, 1)} of ${fixed(wallS * cores, 1)} s`,
    perTask(mainS),
    perTask(runnersS),
    `${fixed(Math.max(0, machineS - mainS - runnersS), 2)} s`,
    `${fixed(r.fanWarm.throughput.perSecond)} (${fixed(r.fanWarm.resources.cpu.runnersS, 2)} s runners)`,
  ];
}

function printReport(results, skipped) {
  const ok = results.filter((r) => !r.error);
  process.stdout.write(`\n== Aloft bench (${os.cpus().length} cores, Node ${process.version}) ==\n\n`);
  if (ok.length > 0) {
    printRows([
      ["scenario", "chain p50", "p95", "p99", "max", "fan tasks/s", "fan s", "RSS standalone", "HWM", "RSS runners (n)"],
      ...ok.map(figuresRow),
    ]);
    process.stdout.write(
      `\nTargets: chain start latency p50 ≤ ${TARGETS.p50Ms} ms, p99 ≤ ${TARGETS.p99Ms} ms ` +
        `(${CHAIN_LENGTH - 1} pairs: task's recorded start − upstream task_instance.end_date);\n` +
        `fan throughput ≥ ${TARGETS.tasksPerS.sqlite} tasks/s on SQLite, ≥ ${TARGETS.tasksPerS.postgres} on PostgreSQL ` +
        `(${FAN_WIDTH + 2} tasks over max end_date − min queued_at, one run);\n` +
        `RSS of the standalone process during the fan run ≤ ${TARGETS.rssMb} MB (peak VmRSS sampled every ${SAMPLE_MS} ms; ` +
        `HWM = VmHWM over its life). Runners = peak of their summed VmRSS, outside the target.\n\n`,
    );
    process.stdout.write("Diagnostics (not targets):\n");
    printRows([
      ["scenario", "chain p50: end→pass / →claim / →start", "fan CPU: machine busy", "standalone", "runners", "other", "fan again, warm pool"],
      ...ok.map(diagnosticsRow),
    ]);
    process.stdout.write(
      "other = the DB server, the CLI, the bench itself and anything else running on the machine.\n",
    );
  }
  for (const r of results.filter((r) => r.error)) process.stdout.write(`FAILED ${r.label}: ${r.error} (log: ${r.logFile})\n`);
  for (const r of ok.filter((r) => [r.chain.state, r.fan.state, r.fanWarm.state].some((s) => s !== "success"))) {
    process.stdout.write(`NOTE ${r.label}: chain run ${r.chain.state}, fan runs ${r.fan.state} / ${r.fanWarm.state}\n`);
  }
  for (const s of skipped) process.stdout.write(`SKIPPED ${s}\n`);
}

// ---------------------------------------------------------------------------------------------

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      parallelism: { type: "string", default: "8,64" },
      "cpu-prof": { type: "string" },
      build: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
  });
  if (values.only && !["sqlite", "postgres"].includes(values.only)) throw new Error(`--only takes sqlite or postgres, not ${values.only}`);
  const cpuProfDir = values["cpu-prof"] ? path.resolve(values["cpu-prof"]) : undefined;
  if (cpuProfDir) fs.mkdirSync(cpuProfDir, { recursive: true });
  return {
    dialects: values.only ? [values.only] : ["sqlite", "postgres"],
    parallelisms: values.parallelism.split(",").filter(Boolean).map(Number),
    cpuProfDir,
    build: values.build,
    keep: values.keep,
  };
}

/** The defaults' scenario first (the headline), then one per extra parallelism. */
async function scenariosFor(dialect, options) {
  const { loadConfig } = await distModule("config.js");
  const defaults = loadConfig({ env: {} }).config;
  const name = dialect === "sqlite" ? "SQLite" : "PostgreSQL";
  const common = { dialect, cpuProfDir: options.cpuProfDir, keep: options.keep };
  return [
    { ...common, label: `${name} defaults (parallelism ${defaults.parallelism})`, settings: {} },
    ...options.parallelisms
      .filter((p) => p !== defaults.parallelism)
      .map((p) => ({ ...common, label: `${name} parallelism ${p}`, settings: { ALOFT_PARALLELISM: String(p) } })),
  ];
}

async function main() {
  const options = parseOptions();
  await ensureBuilt(options.build);
  const results = [];
  const skipped = [];
  for (const dialect of options.dialects) {
    if (dialect === "postgres") {
      const why = await postgresUnavailable();
      if (why) {
        log(`skipping PostgreSQL: ${why}`);
        skipped.push(why);
        continue;
      }
    }
    for (const scenario of await scenariosFor(dialect, options)) results.push(await runScenario(scenario));
  }
  printReport(results, skipped);
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAllNow();
    process.exit(130);
  });
}
process.on("exit", killAllNow);

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  killAllNow();
  process.exitCode = 1;
}
