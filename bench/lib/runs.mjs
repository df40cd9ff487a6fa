/**
 * The bench DAGs, the bench's PostgreSQL database, and the runs: triggering them, waiting for them and
 * reading their figures from the DB through Aloft's own store, so that every dialect reads the same way.
 */
import fs from "node:fs";
import path from "node:path";
import { sql } from "../../dist/store/kysely.js";
import { aloft, checkAlive, distModule, log, sleep } from "./processes.mjs";

export const CHAIN_DAG = "bench_chain";
export const CHAIN_LENGTH = 200;
export const FAN_DAG = "bench_fan";
export const FAN_WIDTH = 2_000;

const PARSE_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 120_000;
const POLL_MS = 250;

export const PG_SERVER_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PG_BENCH_DB = "aloft_bench";

/** Writes the two bench DAGs into `folder`; with `queue`, every task goes to that queue (broker workers). */
export function writeDagFiles(folder, { queue } = {}) {
  const options = queue ? `, { queue: ${JSON.stringify(queue)} }` : "";
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, `${CHAIN_DAG}.ts`),
    `import { chain, dag, task } from "aloft";
// A chain of function tasks; each returns the time it started, so it lands in XCom.
dag(${JSON.stringify(CHAIN_DAG)}, { schedule: null }, () => {
  const tasks = [];
  for (let i = 0; i < ${CHAIN_LENGTH}; i++) tasks.push(task(\`t\${String(i).padStart(3, "0")}\`, () => Date.now()${options}));
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
  for (let i = 0; i < ${FAN_WIDTH}; i++) middle.push(task(\`w\${String(i).padStart(4, "0")}\`, () => {}${options}));
  chain(task("root", () => {}${options}), middle, task("join", () => {}${options}));
});
`,
  );
}

/** Drops and creates a PostgreSQL database of the bench's own (`name`); returns its URL, or throws why it cannot. */
export async function freshPostgresDatabase(name = PG_BENCH_DB) {
  const { default: pg } = await import("pg");
  const admin = new URL(PG_SERVER_URL);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.href, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${name}`;
  return url.href;
}

/** Why PostgreSQL cannot be used, or null when it can. */
export async function postgresUnavailable() {
  try {
    await freshPostgresDatabase();
    return null;
  } catch (error) {
    const reason = error.message || error.code || String(error);
    return `PostgreSQL at ${PG_SERVER_URL.replace(/\/\/[^@/]*@/, "//…@")} is unreachable: ${reason}`;
  }
}

export async function openBenchStore(url) {
  const { openStore } = await distModule("store/db.js");
  return openStore(url, { poolSize: 2 });
}

/** Pids of the PostgreSQL backends serving the bench's database (its only clients are the bench's processes). */
export async function postgresBackendPids(store) {
  const { rows } = await sql`select pid from pg_stat_activity where datname = current_database()`.execute(store.db);
  return rows.map((r) => Number(r.pid));
}

/** Waits until the processor has written both bench DAGs, or one of `processes` dies. */
export async function waitForDags(store, processes) {
  const deadline = Date.now() + PARSE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    checkAlive(processes);
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
export async function trigger(env, store, dagId) {
  const { run_id: runId } = JSON.parse(await aloft(env, "dags", "trigger", dagId, "--json"));
  const row = await store.db
    .selectFrom("dag_run")
    .select("id")
    .where("dag_id", "=", dagId)
    .where("run_id", "=", runId)
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Polls the run until it finishes; logs task states every 2 s; fails when one of `processes`
 * ({ name, child }) dies. Returns the run's final state.
 */
export async function waitForRun(store, runId, processes, label) {
  const started = Date.now();
  let lastReport = started;
  while (Date.now() - started < RUN_TIMEOUT_MS) {
    checkAlive(processes);
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

/** Nearest-rank percentiles (p99 of fewer than 100 values is the largest) and the extremes. */
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) };
}

/**
 * Start latency of each chain task: its recorded start (XCom) minus its upstream's end_date. Also
 * splits it, by the DB's timestamps, into: upstream end → the scheduling pass that queued the task
 * (queued_at is that pass's clock), → the executor's claim (task_try.start_date), → the task's start.
 */
export async function chainLatency(store, runId) {
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

/**
 * Tasks per second of a run: its task count over first queued_at → last end_date. Also the run's wall
 * time from the scheduler starting it (dag_run.start_date, just before it creates the task instances)
 * to its last task's end: what a bare queue's "add the flow → parent done" compares with.
 */
export async function runThroughput(store, runId) {
  const row = await store.db
    .selectFrom("task_instance")
    .select((eb) => [eb.fn.countAll().as("n"), eb.fn.min("queued_at").as("first"), eb.fn.max("end_date").as("last")])
    .where("dag_run_id", "=", runId)
    .executeTakeFirstOrThrow();
  const run = await store.db.selectFrom("dag_run").select("start_date").where("id", "=", runId).executeTakeFirstOrThrow();
  const seconds = (Number(row.last) - Number(row.first)) / 1000;
  return { tasks: Number(row.n), seconds, perSecond: Number(row.n) / seconds, runSeconds: (Number(row.last) - Number(run.start_date)) / 1000 };
}

/**
 * Where a fan task's time goes, by the DB's timestamps (medians over its tries): queued_at (the
 * scheduling pass) → claim (task_try.start_date) → end_date; and how many scheduling passes queued
 * the tasks (each pass stamps its tasks with one queued_at).
 */
export async function fanSegments(store, runId) {
  const rows = await store.db
    .selectFrom("task_instance as ti")
    .innerJoin("task_try as tt", (join) => join.onRef("tt.ti_id", "=", "ti.id").onRef("tt.try_number", "=", "ti.try_number"))
    .select(["ti.queued_at", "ti.end_date", "tt.start_date as claimed_at"])
    .where("ti.dag_run_id", "=", runId)
    .execute();
  return {
    toClaim: summarize(rows.map((r) => Number(r.claimed_at) - Number(r.queued_at))).p50,
    toEnd: summarize(rows.map((r) => Number(r.end_date) - Number(r.claimed_at))).p50,
    passes: new Set(rows.map((r) => Number(r.queued_at))).size,
  };
}

