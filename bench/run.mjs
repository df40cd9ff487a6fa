#!/usr/bin/env node
/**
 * Aloft benchmark. Runs Aloft as real processes and measures
 *   1. task start latency along a chain of 200 function tasks,
 *   2. throughput of one run of root → 2,000 no-op function tasks → join,
 *   3. peak RSS of Aloft's processes (and, apart, of their runner children) during (2),
 * in these scenarios:
 *   sqlite, postgres   `aloft standalone` with its local executor;
 *   redis, rabbitmq    `aloft standalone --executor <broker>` on PostgreSQL, with 2 `aloft worker` processes;
 *                      then, on the same broker, a bare queue doing the same fan (bench/brokers.mjs),
 *                      and the ratio of Aloft's time to the bare queue's.
 * and, apart, the HA scheduler's failover (bench/failover.mjs), on PostgreSQL with 2 `aloft scheduler` nodes
 * and default HA settings, 20 trials each: kill -9 of the active controller → the new leader's first
 * scheduling commit; kill -9 of the active node's scheduling child → the child running again;
 * and the web UI on a DAG of 5,000 tasks × 25 runs in Chromium (bench/ui-large-dag.mjs: grid, graph, Gantt).
 * Figures are printed, never asserted: a missed target does not change the exit code.
 *
 * Usage: npm run bench [-- options]
 *   --only LIST              scenarios to run, comma-separated: sqlite, postgres, redis, rabbitmq, failover, ui (default all)
 *   --parallelism 8,64       ALOFT_PARALLELISM values measured after the defaults (the headline);
 *                            default "8,64", "" for the defaults only. On a broker, each of the 2 workers
 *                            gets half of it as its concurrency.
 *   --cpu-prof DIR           write a V8 CPU profile of each standalone and worker process into DIR
 *   --build                  run `npm run build` first (done anyway when dist/ is missing)
 *   --keep                   keep the temporary ALOFT_HOME folders
 *   --failover-trials N      trials of each failover measure (default 20)
 * Env BENCH_PG_URL: the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test). The bench
 * uses a database of its own, aloft_bench, dropped and created again for every scenario (failover: aloft_bench_failover).
 * Env BENCH_REDIS_URL (default redis://127.0.0.1:6379), BENCH_RABBITMQ_URL (default
 * amqp://guest:guest@127.0.0.1:5672): the brokers. The bench uses its own queues there ("bench" for
 * Aloft, "aloft-bench…" for the bare queue) and deletes them before and after; nothing else is touched.
 * A server that cannot be reached skips its scenarios with a message.
 * ALOFT_* variables of the calling shell are not passed on: scenarios run on Aloft's defaults.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BARE_RUNS, BENCH_QUEUE, BROKERS, runBareBaseline, startWorkers, WORKER_COUNT } from "./brokers.mjs";
import { FAILOVER_TRIALS, printFailoverReport, runFailover } from "./failover.mjs";
import { runUiBench } from "./ui-large-dag.mjs";
import { machineBusy, pidsByCommand, SAMPLE_MS, startCpuCount, startMonitor } from "./lib/monitor.mjs";
import { aloft, distModule, ensureBuilt, freePort, killChildrenOnExit, log, scenarioEnv, startAloft, stopProcess, tail } from "./lib/processes.mjs";
import {
  CHAIN_DAG,
  CHAIN_LENGTH,
  chainLatency,
  FAN_DAG,
  fanSegments,
  FAN_WIDTH,
  freshPostgresDatabase,
  openBenchStore,
  postgresBackendPids,
  postgresUnavailable,
  runThroughput,
  trigger,
  waitForDags,
  waitForRun,
  writeDagFiles,
} from "./lib/runs.mjs";

const TARGETS = { p50Ms: 10, p99Ms: 50, tasksPerS: { sqlite: 500, postgres: 1_000 }, rssMb: 200, bareRatio: 1.5 };
const ALL = ["sqlite", "postgres", "redis", "rabbitmq", "failover", "ui"];
/** How long the machine's load is sampled before each scenario (others may be using the machine). */
const BUSY_SAMPLE_MS = 1_000;

// ---------------------------------------------------------------------------------------------
// One scenario: a fresh home and DB, one standalone process (plus workers on a broker); the chain run,
// then the fan run twice (the second, on runners already started, is a diagnostic: it shows what
// runner start-up costs); on a broker, then the bare queue's fan.

async function measureChain(ctx) {
  log(`${ctx.label}: chain of ${CHAIN_LENGTH} tasks`);
  const runId = await trigger(ctx.env, ctx.store, CHAIN_DAG);
  const state = await waitForRun(ctx.store, runId, ctx.processes, `${ctx.label} chain`);
  const latency = await chainLatency(ctx.store, runId);
  log(`${ctx.label}: chain ${state}; start latency p50 ${latency.p50} ms, p99 ${latency.p99} ms`);
  return { state, latency };
}

async function measureFan(ctx, which) {
  log(`${ctx.label}: fan-out of ${FAN_WIDTH} tasks (${which})`);
  const stopMonitor = startMonitor(ctx.processes.map((p) => p.child.pid));
  const servers = Object.entries(ctx.servers);
  const stopServers = await Promise.all(servers.map(async ([, pids]) => startCpuCount(await pids())));
  const runId = await trigger(ctx.env, ctx.store, FAN_DAG);
  const state = await waitForRun(ctx.store, runId, ctx.processes, `${ctx.label} fan`);
  const monitored = stopMonitor();
  const serversCpuS = {};
  for (const [i, [name, pids]] of servers.entries()) serversCpuS[name] = stopServers[i](await pids());
  const [main, ...workers] = monitored.processes;
  const resources = { main, workers, cpu: { ...monitored.cpu, ...serversCpuS } };
  const throughput = await runThroughput(ctx.store, runId);
  const segments = await fanSegments(ctx.store, runId);
  log(
    `${ctx.label}: fan ${state}; ${throughput.perSecond.toFixed(0)} tasks/s, run start → end ${throughput.runSeconds.toFixed(2)} s, ` +
      `${ctx.processes[0].name} peak RSS ${main.rssMb.toFixed(0)} MB`,
  );
  return { state, throughput, segments, resources };
}

/**
 * @param {{ label: string, dialect: "sqlite"|"postgres", settings: Record<string,string>,
 *   broker?: import("./brokers.mjs").BenchBroker, workerConcurrency?: number, cpuProfDir?: string, keep: boolean }} scenario
 */
async function runScenario(scenario) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-bench-"));
  const dagsFolder = path.join(home, "dags");
  const logFile = path.join(home, "standalone.log");
  const { broker } = scenario;
  writeDagFiles(dagsFolder, broker ? { queue: BENCH_QUEUE } : {});
  const settings = { ...scenario.settings };
  if (scenario.dialect === "postgres") settings.ALOFT_DATABASE_URL = await freshPostgresDatabase();
  if (broker) {
    settings.ALOFT_EXECUTOR = broker.url;
    await broker.tidy();
  }
  const env = scenarioEnv(home, settings);
  await aloft(env, "db", "migrate");
  const busyBefore = await machineBusy(BUSY_SAMPLE_MS);

  const port = await freePort();
  const cpuProfDir = scenario.cpuProfDir;
  const standalone = startAloft(["standalone", "--dags", dagsFolder, "--port", String(port)], { env, logFile, cpuProfDir });
  const processes = [{ name: broker ? "scheduler (standalone)" : "standalone", child: standalone, logFile }];
  if (broker) processes.push(...startWorkers({ env, home, concurrency: scenario.workerConcurrency, cpuProfDir }));
  log(`${scenario.label}: ${processes.map((p) => `${p.name} pid ${p.child.pid}`).join(", ")}; port ${port}, home ${home}`);
  const store = await openBenchStore(settings.ALOFT_DATABASE_URL ?? `sqlite://${path.join(home, "aloft.db")}`);
  let failed = false;
  let result;
  try {
    await waitForDags(store, processes);
    // Servers whose CPU the fan runs count, when they run on this machine.
    const servers = {
      ...(scenario.dialect === "postgres" ? { dbS: () => postgresBackendPids(store) } : {}),
      ...(broker ? { brokerS: () => pidsByCommand(broker.serverCommand) } : {}),
    };
    const ctx = { label: scenario.label, env, store, processes, servers };
    const chain = await measureChain(ctx);
    const fan = await measureFan(ctx, "cold: the runner pools grow");
    const fanWarm = await measureFan(ctx, "again, on the runners already started");
    result = { ...scenario, chain, fan, fanWarm, busyBefore, logFile };
  } catch (error) {
    failed = true;
    log(`${scenario.label}: FAILED: ${error.message}`);
    for (const p of processes) process.stdout.write(`last lines of ${p.logFile} (${p.name}):\n${tail(p.logFile, 15)}`);
    return { ...scenario, error: error.message, logFile };
  } finally {
    await store.close();
    await Promise.all(processes.map((p) => stopProcess(p.child)));
  }
  // The bare queue runs with Aloft's processes stopped, on the same broker, with the same worker concurrency.
  if (broker) {
    log(`${scenario.label}: bare queue on the same ${broker.name}: ${broker.bareLabel}, ${WORKER_COUNT} processes × ${scenario.workerConcurrency}`);
    try {
      result.bare = await runBareBaseline(broker, scenario.workerConcurrency, home);
    } catch (error) {
      failed = true;
      log(`${scenario.label}: the bare queue FAILED: ${error.message} (logs in ${home})`);
      result.bare = { error: error.message };
    }
  }
  if (!failed && !scenario.keep) fs.rmSync(home, { recursive: true, force: true });
  return result;
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

/** Peak RSS of the workers, each, against the RSS target. */
function workersRss(workers) {
  if (workers.length === 0) return "-";
  return `${workers.map((w) => fixed(w.rssMb)).join(" / ")} MB ${mark(workers.every((w) => w.rssMb <= TARGETS.rssMb))}`;
}

/** The headline figures, against the targets. */
function figuresRow(r) {
  const l = r.chain.latency;
  const { throughput, resources: m } = r.fan;
  const runners = [m.main, ...m.workers];
  return [
    r.label,
    `${l.p50} ms ${mark(l.p50 <= TARGETS.p50Ms)}`,
    `${l.p95} ms`,
    `${l.p99} ms ${mark(l.p99 <= TARGETS.p99Ms)}`,
    `${l.max} ms`,
    `${fixed(throughput.perSecond)} ${mark(throughput.perSecond >= TARGETS.tasksPerS[r.dialect])}`,
    fixed(throughput.seconds, 2),
    `${fixed(m.main.rssMb)} MB ${mark(m.main.rssMb <= TARGETS.rssMb)}`,
    `${fixed(m.main.hwmMb)} MB`,
    workersRss(m.workers),
    `${fixed(runners.reduce((sum, p) => sum + p.runnersRssMb, 0))} MB (${runners.reduce((sum, p) => sum + p.runners, 0)})`,
  ];
}

/** Aloft's fan (run start → last task's end) over the bare queue's fan on the same broker. */
function bareRows(r) {
  if (r.bare.error) return [[r.label, "-", "-", `FAILED: ${r.bare.error}`, "-", "-"]];
  const ratio = (aloftS) => aloftS / r.bare.seconds;
  const { main, workers, cpu } = r.fan.resources;
  const aloftCpuS = [main, ...workers].reduce((sum, p) => sum + p.cpuS + p.runnersCpuS, 0) + (cpu.dbS ?? 0) + (cpu.brokerS ?? 0);
  const cold = ratio(r.fan.throughput.runSeconds);
  const warm = ratio(r.fanWarm.throughput.runSeconds);
  return [
    [
      r.label,
      `${fixed(r.fan.throughput.runSeconds, 2)} s`,
      `${fixed(r.fanWarm.throughput.runSeconds, 2)} s`,
      `${fixed(r.bare.seconds, 2)} s (${r.bare.runs.map((s) => fixed(s, 2)).join(", ")})`,
      `${fixed(cold, 2)}× ${mark(cold <= TARGETS.bareRatio)}`,
      `${fixed(warm, 2)}× ${mark(warm <= TARGETS.bareRatio)}`,
      `${r.bare.rssMb.map((mb) => fixed(mb)).join(" / ")} MB`,
      `${fixed((aloftCpuS * 1000) / r.fan.throughput.tasks, 2)} / ${fixed(r.bare.cpuMsPerTask, 2)} ms`,
    ],
  ];
}

/** Where time and CPU went: chain latency by segment, CPU of the cold fan run, the warm fan run. */
function diagnosticsRow(r) {
  const s = r.chain.latency.segments;
  const { main, workers, cpu } = r.fan.resources;
  const runners = [main, ...workers];
  const runnersS = runners.reduce((sum, p) => sum + p.runnersCpuS, 0);
  const workersS = workers.reduce((sum, p) => sum + p.cpuS, 0);
  const perTask = (cpuS) => (cpuS === undefined || cpuS === null ? "-" : `${fixed(cpuS, 2)} s = ${fixed((cpuS * 1000) / r.fan.throughput.tasks, 2)} ms/task`);
  const counted = main.cpuS + workersS + runnersS + (cpu.dbS ?? 0) + (cpu.brokerS ?? 0);
  const warm = r.fanWarm.resources;
  const warmRunnersS = [warm.main, ...warm.workers].reduce((sum, p) => sum + p.runnersCpuS, 0);
  return [
    r.label,
    `${fixed(r.busyBefore * 100)} %`,
    `${s.toPass} / ${s.toClaim} / ${s.toStart} ms`,
    `${r.fan.segments.toClaim} / ${r.fan.segments.toEnd} ms; ${r.fan.segments.passes}`,
    `${fixed(cpu.machineS, 1)} of ${fixed(cpu.wallS * cpu.cores, 1)} s`,
    perTask(main.cpuS),
    workers.length > 0 ? perTask(workersS) : "-",
    perTask(runnersS),
    perTask(cpu.dbS),
    perTask(cpu.brokerS),
    `${fixed(Math.max(0, cpu.machineS - counted), 2)} s`,
    `${fixed(r.fanWarm.throughput.perSecond)} (${fixed(warmRunnersS, 2)} s runners)`,
  ];
}

function printReport(results, skipped, failover) {
  const ok = results.filter((r) => !r.error);
  process.stdout.write(`\n== Aloft bench (${os.cpus().length} cores, Node ${process.version}) ==\n\n`);
  if (ok.length > 0) {
    printRows([
      ["scenario", "chain p50", "p95", "p99", "max", "fan tasks/s", "fan s", "RSS standalone", "HWM", "RSS workers", "RSS runners (n)"],
      ...ok.map(figuresRow),
    ]);
    process.stdout.write(
      `\nTargets: chain start latency p50 ≤ ${TARGETS.p50Ms} ms, p99 ≤ ${TARGETS.p99Ms} ms ` +
        `(${CHAIN_LENGTH - 1} pairs: task's recorded start − upstream task_instance.end_date);\n` +
        `fan throughput ≥ ${TARGETS.tasksPerS.sqlite} tasks/s on SQLite, ≥ ${TARGETS.tasksPerS.postgres} on PostgreSQL and on the brokers ` +
        `(${FAN_WIDTH + 2} tasks over max end_date − min queued_at, one run);\n` +
        `RSS of the standalone process (on a broker: the scheduler; and each worker) during the fan run ≤ ${TARGETS.rssMb} MB ` +
        `(peak VmRSS sampled every ${SAMPLE_MS} ms; HWM = VmHWM over its life). Runners = peak of their summed VmRSS, outside the target.\n` +
        `On a broker: the scheduler is \`aloft standalone --executor URL\` (PostgreSQL, parallelism as labelled) and ` +
        `${WORKER_COUNT} \`aloft worker --concurrency N\` processes on one queue.\n\n`,
    );
    const withBare = ok.filter((r) => r.bare);
    if (withBare.length > 0) {
      process.stdout.write(`Aloft against the bare queue on the same broker, same run (target: Aloft ≤ ${TARGETS.bareRatio}× the bare queue's time):\n`);
      printRows([["scenario", "Aloft fan", "again, warm", "bare queue, fastest (runs)", "ratio", "ratio warm", "RSS bare workers", "CPU per task: Aloft / bare"], ...withBare.flatMap(bareRows)]);
      process.stdout.write(
        `Aloft fan = dag_run.start_date (the scheduler starts the run and creates its ${FAN_WIDTH + 2} task instances) → the join's end_date;\n` +
          `Aloft also runs a root task before the ${FAN_WIDTH} and records every try (state, try row, log, heartbeat) in PostgreSQL.\n` +
          `Bare queue = from adding the work to the end of its final job, fastest of ${BARE_RUNS} runs; ` +
          `${WORKER_COUNT} processes with the Aloft workers' concurrency:\n`,
      );
      for (const broker of Object.values(BROKERS)) {
        if (withBare.some((r) => r.broker === broker)) process.stdout.write(`  ${broker.name}: ${broker.bareLabel}\n`);
      }
      process.stdout.write(
        "CPU per task = all CPU the fan used (Aloft: scheduler, workers, runners, PostgreSQL backends, broker server; " +
          "bare: its workers, the broker server, the bench adding the work) over its tasks.\n",
      );
      for (const r of withBare.filter((r) => !r.bare.error)) {
        const cold = r.fan.throughput.runSeconds / r.bare.seconds;
        if (cold > TARGETS.bareRatio) {
          process.stdout.write(
            `TARGET MISSED ${r.label}: Aloft took ${fixed(cold, 1)}× the bare queue's time (target ≤ ${TARGETS.bareRatio}×).\n`,
          );
        }
      }
      process.stdout.write("\n");
    }
    process.stdout.write("Diagnostics (not targets):\n");
    printRows([
      [
        "scenario",
        "busy before",
        "chain p50: end→pass / →claim / →start",
        "fan p50: queued→claim / →end; passes",
        "fan CPU: machine busy",
        "standalone",
        "workers",
        "runners",
        "PostgreSQL",
        "broker",
        "other",
        "fan again, warm pool",
      ],
      ...ok.map(diagnosticsRow),
    ]);
    process.stdout.write(
      "fan p50 = medians over the cold fan's tries; passes = scheduling passes that queued them.\n" +
        `busy before = the machine's CPU use (all cores) in the ${BUSY_SAMPLE_MS / 1000} s before the scenario started: others' load.\n` +
        "standalone = the standalone process (on a broker: the scheduler); PostgreSQL = the backends connected to the bench's " +
        "database; broker = the broker server's processes (shared with anyone else using it);\n" +
        "other = the CLI, the bench itself, PostgreSQL's background processes and anything else running on the machine.\n",
    );
  }
  if (failover) printFailoverReport(failover, printRows);
  for (const r of results.filter((r) => r.error)) process.stdout.write(`FAILED ${r.label}: ${r.error} (log: ${r.logFile})\n`);
  for (const r of ok.filter((r) => [r.chain.state, r.fan.state, r.fanWarm.state].some((s) => s !== "success"))) {
    process.stdout.write(`NOTE ${r.label}: chain run ${r.chain.state}, fan runs ${r.fan.state} / ${r.fanWarm.state}\n`);
  }
  for (const s of skipped) process.stdout.write(`SKIPPED ${s}\n`);
}

// ---------------------------------------------------------------------------------------------

class UsageError extends Error {}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      parallelism: { type: "string", default: "8,64" },
      "cpu-prof": { type: "string" },
      build: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      "failover-trials": { type: "string", default: String(FAILOVER_TRIALS) },
    },
  });
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean) ?? ALL;
  const unknown = only.filter((s) => !ALL.includes(s));
  if (unknown.length > 0 || only.length === 0) {
    throw new UsageError(`--only takes a comma-separated list of ${ALL.join(", ")}; got '${values.only}'`);
  }
  const parallelisms = values.parallelism.split(",").filter(Boolean).map(Number);
  const bad = parallelisms.find((p) => !Number.isInteger(p) || p < 1);
  if (bad !== undefined) throw new UsageError(`--parallelism takes positive whole numbers separated by commas; got '${values.parallelism}'`);
  const failoverTrials = Number(values["failover-trials"]);
  if (!Number.isInteger(failoverTrials) || failoverTrials < 1) throw new UsageError(`--failover-trials takes a positive whole number; got '${values["failover-trials"]}'`);
  const cpuProfDir = values["cpu-prof"] ? path.resolve(values["cpu-prof"]) : undefined;
  if (cpuProfDir) fs.mkdirSync(cpuProfDir, { recursive: true });
  return {
    targets: ALL.filter((t) => only.includes(t)),
    parallelisms,
    cpuProfDir,
    build: values.build,
    keep: values.keep,
    failoverTrials,
  };
}

/**
 * The defaults' scenario first (the headline), then one per extra parallelism. On a broker each
 * worker takes half the scheduler's parallelism, so the two can keep every slot busy.
 */
async function scenariosFor(target, options) {
  const { loadConfig } = await distModule("config.js");
  const defaults = loadConfig({ env: {} }).config;
  const common = { cpuProfDir: options.cpuProfDir, keep: options.keep };
  const extra = options.parallelisms.filter((p) => p !== defaults.parallelism);
  const broker = BROKERS[target];
  if (!broker) {
    const name = target === "sqlite" ? "SQLite" : "PostgreSQL";
    return [
      { ...common, dialect: target, label: `${name} defaults (parallelism ${defaults.parallelism})`, settings: {} },
      ...extra.map((p) => ({ ...common, dialect: target, label: `${name} parallelism ${p}`, settings: { ALOFT_PARALLELISM: String(p) } })),
    ];
  }
  const onBroker = (parallelism, workerConcurrency, what) => ({
    ...common,
    dialect: "postgres",
    broker,
    workerConcurrency,
    label: `${[broker.name, what].filter(Boolean).join(" ")}: parallelism ${parallelism}, ${WORKER_COUNT} workers × ${workerConcurrency}`,
    settings: parallelism === defaults.parallelism ? {} : { ALOFT_PARALLELISM: String(parallelism) },
  });
  return [
    onBroker(defaults.parallelism, defaults.workerConcurrency, "defaults"),
    ...extra.map((p) => onBroker(p, Math.ceil(p / WORKER_COUNT), "")),
  ];
}

/** Why `target`'s servers cannot be used, or null. PostgreSQL is checked once. */
async function unavailable(target, checkPostgres) {
  if (target === "sqlite" || target === "ui") return null;
  const pg = await checkPostgres();
  if (target === "failover") return pg ? `failover runs on PostgreSQL: ${pg}` : null;
  if (pg) return BROKERS[target] ? `${BROKERS[target].name} scenarios run on PostgreSQL: ${pg}` : pg;
  return BROKERS[target] ? BROKERS[target].unavailable() : null;
}

async function main() {
  const options = parseOptions();
  await ensureBuilt(options.build);
  const results = [];
  const skipped = [];
  let failover = null;
  let pgCheck;
  const checkPostgres = () => (pgCheck ??= postgresUnavailable());
  for (const target of options.targets) {
    const why = await unavailable(target, checkPostgres);
    if (why) {
      log(`skipping ${target}: ${why}`);
      skipped.push(why);
      continue;
    }
    if (target === "failover") {
      failover = await runFailover({ trials: options.failoverTrials, keep: options.keep });
      continue;
    }
    if (target === "ui") continue; // after the report: it prints its own table

    for (const scenario of await scenariosFor(target, options)) {
      // A server that goes away during setup fails this scenario only.
      results.push(await runScenario(scenario).catch((error) => ({ ...scenario, error: error.message, logFile: "none" })));
    }
  }
  printReport(results, skipped, failover);
  if (options.targets.includes("ui")) await runUiBench({ keep: options.keep });
}

killChildrenOnExit();

try {
  await main();
} catch (error) {
  process.stderr.write(error instanceof UsageError ? `bench: ${error.message}\n` : `bench failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
}
