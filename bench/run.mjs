#!/usr/bin/env node
/**
 * Aloft benchmark: runs `aloft standalone` as a real process on SQLite and on PostgreSQL and measures
 *   1. task start latency along a chain of 200 function tasks,
 *   2. throughput of one run of root → 2,000 no-op tasks → join,
 *   3. peak RSS of the standalone process (and, separately, of its runner children) during (2).
 * Figures are printed, never asserted: a missed target does not change the exit code.
 *
 * Usage: npm run bench [-- --only sqlite|postgres] [-- --parallelism 8,64] [-- --cpu-prof DIR]
 *   --parallelism  extra ALOFT_PARALLELISM values to measure after the defaults (the headline).
 *   --cpu-prof     writes a V8 CPU profile of each standalone process into DIR.
 * Env BENCH_PG_URL: PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test); the bench
 * uses a database of its own, aloft_bench, dropped and created again at start.
 */
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "bin", "aloft.js");
const PG_SERVER_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PG_BENCH_DB = "aloft_bench";

const CHAIN_DAG = "bench_chain";
const CHAIN_LENGTH = 200;
const FAN_DAG = "bench_fan";
const FAN_WIDTH = 2_000;

const TARGETS = {
  p50: 10,
  p99: 50,
  throughput: { sqlite: 500, postgres: 1_000 },
  rssMb: 200,
};
const RUN_TIMEOUT_MS = 120_000;
const RSS_SAMPLE_MS = 50;

const execFileAsync = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (message) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// Setup: build, DAG files, databases, ports

/** Builds dist/ when it is missing (the bench runs the compiled CLI). */
async function ensureBuilt() {
  if (fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"))) return;
  log("dist/ is missing: running npm run build");
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
// One root, ${FAN_WIDTH} no-op tasks side by side, one join.
dag(${JSON.stringify(FAN_DAG)}, { schedule: null }, () => {
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

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
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
function startStandalone(env, dagsFolder, port, logFile, cpuProfDir) {
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

/** SIGTERM (a graceful stop, which also stops the runners), then SIGKILL after `graceMs`. */
async function stopProcess(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function killAllNow() {
  for (const child of children) child.kill("SIGKILL");
}

// ---------------------------------------------------------------------------------------------
// Resources: /proc sampling of the standalone process, its runner children and the machine

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux this runs on

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

/** utime + stime of a process, in clock ticks (null when it is gone). */
function cpuTicks(pid) {
  const stat = readProc(pid, "stat");
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy clock ticks of the whole machine, all cores. */
function machineBusyTicks() {
  const [, ...values] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = values;
  return user + nice + system + irq + softirq + steal;
}

/** Pids of the runner processes forked by `pid`. */
function runnerPids(pid) {
  const tasks = (() => {
    try {
      return fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  })();
  const children = tasks.flatMap((tid) => (readProc(pid, `task/${tid}/children`) ?? "").trim().split(/\s+/).filter(Boolean));
  return children.map(Number).filter((child) => readProc(child, "cmdline")?.includes("runner-child.js"));
}

/**
 * Samples memory and CPU every RSS_SAMPLE_MS until stopped. stop() returns peak RSS (MB) of the
 * standalone process and summed over its runners, and CPU seconds used since the start by the
 * standalone process, by its runners (new ones count from their birth) and by the whole machine.
 */
function startMonitor(pid) {
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
  const timer = setInterval(sample, RSS_SAMPLE_MS);

  return () => {
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
// DB polling and figures (through Aloft's own store, so both dialects read the same way)

async function openBenchStore(url) {
  const { openStore } = await import(path.join(ROOT, "dist", "store", "db.js"));
  return openStore(url, { poolSize: 2 });
}

/** Waits until the processor has written both bench DAGs, or the standalone process dies. */
async function waitForDags(store, standalone) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (standalone.exitCode !== null) throw new Error(`standalone exited with code ${standalone.exitCode}`);
    const rows = await store.db
      .selectFrom("dag")
      .select("dag_id")
      .where("dag_id", "in", [CHAIN_DAG, FAN_DAG])
      .where("is_active", "=", 1)
      .execute()
      .catch(() => []);
    if (rows.length === 2) return;
    await sleep(200);
  }
  throw new Error("the bench DAGs were not parsed within 60 s");
}

/** Triggers a run with the CLI and returns the dag_run row id. */
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

/** Polls the run until it finishes, logging task progress every couple of seconds. */
async function waitForRun(store, runId, standalone, label) {
  const started = Date.now();
  let lastReport = 0;
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
      const text = counts.map((c) => `${c.state ?? "none"}=${Number(c.n)}`).join(" ");
      log(`  ${label}: run ${run.state}, ${((Date.now() - started) / 1000).toFixed(1)} s, tasks ${text}`);
    }
    await sleep(100);
  }
  throw new Error(`${label}: the run did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Start latency of each chain task: its recorded start minus its upstream's end_date. */
async function chainLatency(store, runId) {
  const rows = await store.db
    .selectFrom("task_instance as ti")
    .leftJoin("xcom as x", (join) => join.onRef("x.ti_id", "=", "ti.id").on("x.key", "=", "return_value"))
    .select(["ti.task_id", "ti.end_date", "x.value"])
    .where("ti.dag_run_id", "=", runId)
    .orderBy("ti.task_id")
    .execute();
  const latencies = [];
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].value === null || rows[i - 1].end_date === null) throw new Error(`chain task ${rows[i].task_id} has no start record`);
    latencies.push(Number(JSON.parse(rows[i].value)) - Number(rows[i - 1].end_date));
  }
  latencies.sort((a, b) => a - b);
  return {
    pairs: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1),
  };
}

/** Tasks per second from the first queued_at to the last end_date of the run. */
async function fanThroughput(store, runId) {
  const row = await store.db
    .selectFrom("task_instance")
    .select((eb) => [eb.fn.countAll().as("n"), eb.fn.min("queued_at").as("first"), eb.fn.max("end_date").as("last")])
    .where("dag_run_id", "=", runId)
    .executeTakeFirstOrThrow();
  const seconds = (Number(row.last) - Number(row.first)) / 1000;
  return { tasks: Number(row.n), seconds, perSecond: Number(row.n) / seconds };
}

// ---------------------------------------------------------------------------------------------
// One scenario: a fresh home and DB, one standalone process, the chain run then the fan run

/**
 * @param {{ label: string, dialect: "sqlite"|"postgres", parallelism?: number, cpuProfDir?: string }} scenario
 */
async function runScenario(scenario) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-bench-"));
  const dagsFolder = path.join(home, "dags");
  writeDagFiles(dagsFolder);
  const env = { ...process.env, ALOFT_HOME: home, ALOFT_LOG_LEVEL: process.env.ALOFT_LOG_LEVEL ?? "info" };
  delete env.ALOFT_DATABASE_URL;
  delete env.ALOFT_PARALLELISM;
  if (scenario.dialect === "postgres") env.ALOFT_DATABASE_URL = await freshPostgresDatabase();
  if (scenario.parallelism !== undefined) env.ALOFT_PARALLELISM = String(scenario.parallelism);
  const dbUrl = env.ALOFT_DATABASE_URL ?? `sqlite://${path.join(home, "aloft.db")}`;

  await aloft(env, "db", "migrate");
  const port = await freePort();
  const logFile = path.join(home, "standalone.log");
  const standalone = startStandalone(env, dagsFolder, port, logFile, scenario.cpuProfDir);
  log(`${scenario.label}: standalone pid ${standalone.pid} on port ${port}, home ${home}`);
  const store = await openBenchStore(dbUrl);
  try {
    await waitForDags(store, standalone);
    log(`${scenario.label}: DAGs parsed; chain of ${CHAIN_LENGTH} tasks`);

    const chainRun = await trigger(env, store, CHAIN_DAG);
    const chainState = await waitForRun(store, chainRun, standalone, `${scenario.label} chain`);
    const latency = await chainLatency(store, chainRun);
    log(`${scenario.label}: chain ${chainState}; p50 ${latency.p50} ms, p99 ${latency.p99} ms`);

    log(`${scenario.label}: fan-out of ${FAN_WIDTH} tasks`);
    const stopMonitor = startMonitor(standalone.pid);
    const fanRun = await trigger(env, store, FAN_DAG);
    const fanState = await waitForRun(store, fanRun, standalone, `${scenario.label} fan`);
    const resources = stopMonitor();
    const throughput = await fanThroughput(store, fanRun);
    log(`${scenario.label}: fan ${fanState}; ${throughput.perSecond.toFixed(0)} tasks/s, peak RSS ${resources.mainRssMb.toFixed(0)} MB`);

    return { ...scenario, chainState, latency, fanState, throughput, resources, logFile };
  } catch (error) {
    log(`${scenario.label}: FAILED: ${error.message}; last lines of ${logFile}:`);
    process.stdout.write(tail(logFile, 15));
    return { ...scenario, error: error.message, logFile };
  } finally {
    await store.close();
    await stopProcess(standalone);
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

function printRows(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  const line = (row) => row.map((cell, i) => (cell ?? "").padEnd(widths[i])).join("  ").trimEnd();
  process.stdout.write(`${line(rows[0])}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
}

/** The headline figures, against the targets. */
function figuresRow(r) {
  const l = r.latency;
  const m = r.resources;
  return [
    r.label,
    `${l.p50} ms ${mark(l.p50 <= TARGETS.p50)}`,
    `${l.p95} ms`,
    `${l.p99} ms ${mark(l.p99 <= TARGETS.p99)}`,
    `${l.max} ms`,
    `${r.throughput.perSecond.toFixed(0)} ${mark(r.throughput.perSecond >= TARGETS.throughput[r.dialect])}`,
    r.throughput.seconds.toFixed(2),
    `${m.mainRssMb.toFixed(0)} MB ${mark(m.mainRssMb <= TARGETS.rssMb)}`,
    `${m.mainHwmMb.toFixed(0)} MB`,
    `${m.runnersRssMb.toFixed(0)} MB (${m.runners})`,
  ];
}

/** Where the CPU went during the fan run: the standalone process, its runners, everything else. */
function cpuRow(r) {
  const { wallS, cores, mainS, runnersS, machineS } = r.resources.cpu;
  const perTaskMs = (s) => ((s * 1000) / r.throughput.tasks).toFixed(2);
  return [
    r.label,
    wallS.toFixed(2),
    `${machineS.toFixed(2)} (${((100 * machineS) / (wallS * cores)).toFixed(0)}% of ${cores} cores)`,
    `${mainS.toFixed(2)} (${perTaskMs(mainS)} ms/task)`,
    `${runnersS.toFixed(2)} (${perTaskMs(runnersS)} ms/task)`,
    `${Math.max(0, machineS - mainS - runnersS).toFixed(2)}`,
  ];
}

function printReport(results, skipped) {
  const ok = results.filter((r) => !r.error);
  process.stdout.write("\n");
  printRows([
    ["scenario", "chain p50", "p95", "p99", "max", "fan tasks/s", "fan s", "RSS main", "HWM main", "RSS runners (n)"],
    ...ok.map(figuresRow),
  ]);
  process.stdout.write(
    `\nTargets: chain start latency p50 ≤ ${TARGETS.p50} ms, p99 ≤ ${TARGETS.p99} ms (${CHAIN_LENGTH - 1} pairs: task start − upstream end_date);\n` +
      `fan throughput (${FAN_WIDTH + 2} tasks, max end_date − min queued_at) ≥ ${TARGETS.throughput.sqlite} tasks/s on SQLite, ` +
      `≥ ${TARGETS.throughput.postgres} on PostgreSQL;\n` +
      `peak RSS of the standalone process during the fan run ≤ ${TARGETS.rssMb} MB (VmRSS sampled every ${RSS_SAMPLE_MS} ms; ` +
      `HWM = VmHWM over the process's life; runners = peak summed VmRSS of runner children, not in the target).\n\n`,
  );
  process.stdout.write("CPU seconds during the fan run (other = DB server, CLI, bench):\n");
  printRows([["scenario", "wall s", "machine busy", "standalone", "runners", "other"], ...ok.map(cpuRow)]);
  for (const r of results.filter((r) => r.error)) process.stdout.write(`FAILED ${r.label}: ${r.error} (log: ${r.logFile})\n`);
  for (const r of ok.filter((r) => r.chainState !== "success" || r.fanState !== "success")) {
    process.stdout.write(`NOTE ${r.label}: chain run ${r.chainState}, fan run ${r.fanState} (log: ${r.logFile})\n`);
  }
  for (const s of skipped) process.stdout.write(`SKIPPED ${s}\n`);
}

// ---------------------------------------------------------------------------------------------

function parseOptions() {
  const { values } = parseArgs({
    options: { only: { type: "string" }, parallelism: { type: "string" }, "cpu-prof": { type: "string" } },
  });
  const extra = values.parallelism ? values.parallelism.split(",").map(Number).filter((n) => n > 0) : [];
  const dialects = values.only ? [values.only] : ["sqlite", "postgres"];
  const cpuProfDir = values["cpu-prof"] ? path.resolve(values["cpu-prof"]) : undefined;
  if (cpuProfDir) fs.mkdirSync(cpuProfDir, { recursive: true });
  return { dialects, extra, cpuProfDir };
}

/** Checks that PostgreSQL answers; returns why not, or null. */
async function postgresUnavailable() {
  try {
    await freshPostgresDatabase();
    return null;
  } catch (error) {
    return `PostgreSQL (${PG_SERVER_URL.replace(/\/\/[^@]*@/, "//…@")}): ${error.message || error.code || String(error)}`;
  }
}

async function main() {
  const { dialects, extra, cpuProfDir } = parseOptions();
  await ensureBuilt();
  const results = [];
  const skipped = [];
  for (const dialect of dialects) {
    if (dialect === "postgres") {
      const why = await postgresUnavailable();
      if (why) {
        log(`skipping PostgreSQL: ${why}`);
        skipped.push(why);
        continue;
      }
    }
    const name = dialect === "sqlite" ? "SQLite" : "PostgreSQL";
    results.push(await runScenario({ label: `${name} defaults`, dialect, cpuProfDir }));
    for (const parallelism of extra) {
      results.push(await runScenario({ label: `${name} parallelism=${parallelism}`, dialect, parallelism, cpuProfDir }));
    }
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
