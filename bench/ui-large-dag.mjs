#!/usr/bin/env node
/**
 * The web UI on a large DAG: 5,000 tasks (50 parallel chains of 100, between a start and an end task)
 * with 25 runs, 125,000 task instances, on SQLite, served by `aloft api`. Debian's Chromium, driven by
 * playwright-core, measures for each of `--trials` fresh page loads:
 *   grid   navigation → first cells drawn → a clicked cell's details shown (the grid is usable);
 *          then a jump to the last task row → its cells drawn;
 *   graph  navigation → all 5,000 boxes laid out and drawn;
 *   gantt  navigation → the latest run's bars drawn;
 * and, outside the browser, the time of the grid's one data request. Target: grid and graph usable
 * in under 2 s. Figures are printed, never asserted.
 *
 * Usage: node bench/ui-large-dag.mjs [--trials N] [--keep]   (or: npm run bench -- --only ui)
 * Env ALOFT_TEST_CHROMIUM or /usr/bin/chromium: the browser.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { aloft, distModule, ensureBuilt, freePort, killChildrenOnExit, log, scenarioEnv, sleep, startAloft, stopProcess, tail } from "./lib/processes.mjs";

export const LARGE_DAG = "bench_ui_large";
const CHAINS = 50;
const DEPTH = 100;
export const TASKS = CHAINS * DEPTH;
export const RUNS = 25;
const TARGET_MS = 2000;
const USER = "bench";
const PASSWORD = "bench password 5000";

const DAG_FILE = `import { dag, task } from "aloft";
// ${CHAINS} parallel chains of ${DEPTH} tasks between a start and an end: ${TASKS} tasks in all.
dag("${LARGE_DAG}", { schedule: null, tags: ["bench"] }, () => {
  const start = task("start", () => 1);
  const end = task("end", () => 1);
  for (let c = 0; c < ${CHAINS}; c++) {
    let previous = start;
    for (let d = 0; d < ${DEPTH} - (c === 0 ? 2 : 0); d++) {
      const next = task(\`c\${c}_t\${d}\`, () => 1);
      previous.then(next);
      previous = next;
    }
    previous.then(end);
  }
});
`;

/** A state for task `index` of run `r`: old runs all green, the newest still running part-way. */
function stateOf(r, index) {
  if (r < RUNS - 1) return index % 997 === 0 && r % 5 === 0 ? "failed" : index % 211 === 0 ? "skipped" : "success";
  return index < TASKS * 0.6 ? "success" : index < TASKS * 0.62 ? "running" : index < TASKS * 0.65 ? "queued" : null;
}

/** 25 runs and their 125,000 task instances, written straight into the DB (running them would take minutes). */
async function seedRuns(databaseUrl) {
  const { openStore } = await distModule("store/db.js");
  const store = await openStore(databaseUrl, { poolSize: 1 });
  try {
    const dagRow = await store.db.selectFrom("dag").select(["dag_version_id", "serialized"]).where("dag_id", "=", LARGE_DAG).executeTakeFirstOrThrow();
    const taskIds = JSON.parse(dagRow.serialized).tasks.map((t) => t.taskId);
    const day = 86_400_000;
    const first = Date.UTC(2026, 0, 1);
    for (let r = 0; r < RUNS; r++) {
      const at = first + r * day;
      const running = r === RUNS - 1;
      await store.db.transaction().execute(async (tx) => {
        const runId = `manual__${new Date(at).toISOString()}`;
        const run = await tx
          .insertInto("dag_run")
          .values({
            dag_id: LARGE_DAG, run_id: runId, run_type: "manual", state: running ? "running" : "success", logical_date: at, data_interval_start: at, data_interval_end: at,
            run_after: at, conf: "{}", queued_at: at, start_date: at, end_date: running ? null : at + 600_000, created_at: at, dag_version_id: dagRow.dag_version_id,
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        const rows = taskIds.map((taskId, index) => {
          const state = stateOf(r, index);
          const start = at + index * 100;
          const ended = state !== null && state !== "running" && state !== "queued";
          return {
            dag_run_id: run.id, dag_id: LARGE_DAG, run_id: runId, task_id: taskId, state, try_number: state === null ? 0 : 1, max_tries: 0, operator: "task",
            queue: "default", pool: "default_pool", pool_slots: 1, priority_weight: 1, queued_at: state ? start - 50 : null, start_date: state && state !== "queued" ? start : null,
            end_date: ended ? start + 80 : null, duration_ms: ended ? 80 : null, next_try_at: null, hostname: state ? "bench" : null, pid: null, updated_at: at,
          };
        });
        for (let i = 0; i < rows.length; i += 500) await tx.insertInto("task_instance").values(rows.slice(i, i + 500)).execute();
      });
    }
    return taskIds;
  } finally {
    await store.close();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measurePage(browser, baseUrl, lastTaskId) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(baseUrl);
  await page.fill("#username", USER);
  await page.fill("#password", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=who]");
  const dagUrl = (tab) => `${baseUrl}#/dags/${LARGE_DAG}?tab=${tab}`;
  const timed = async (action) => {
    const t0 = performance.now();
    await action();
    return Math.round(performance.now() - t0);
  };
  const out = {};
  // A fresh document each time, so nothing is cached in the page.
  await page.goto("about:blank");
  out.gridCells = await timed(async () => {
    await page.goto(dagUrl("grid"));
    await page.waitForSelector("[data-testid=grid-cell]", { timeout: 60_000 });
  });
  out.gridUsable = out.gridCells + (await timed(async () => {
    await page.click("[data-testid=grid-cell] >> nth=0");
    await page.waitForSelector("[data-testid=open-task-log]", { timeout: 60_000 });
  }));
  out.gridLastRow = await timed(async () => {
    await page.$eval("[data-testid=grid]", (grid) => grid.scrollBy(0, grid.scrollHeight));
    await page.waitForSelector(`[data-testid=grid-cell][data-task-id="${lastTaskId}"]`, { timeout: 60_000 });
  });
  await page.goto("about:blank");
  out.graph = await timed(async () => {
    await page.goto(dagUrl("graph"));
    await page.waitForSelector(`[data-testid=graph][data-laid-out=true]`, { timeout: 120_000 });
  });
  out.graphNodes = Number(await page.getAttribute("[data-testid=graph]", "data-node-count"));
  await page.goto("about:blank");
  out.gantt = await timed(async () => {
    await page.goto(dagUrl("gantt"));
    await page.waitForSelector("[data-testid=gantt-row]", { timeout: 60_000 });
  });
  await page.close();
  return out;
}

export async function runUiBench({ trials = 3, keep = false } = {}) {
  const executablePath = process.env.ALOFT_TEST_CHROMIUM || "/usr/bin/chromium";
  if (!fs.existsSync(executablePath)) {
    log(`ui: SKIPPED, no Chromium at ${executablePath} (apt-get install chromium, or set ALOFT_TEST_CHROMIUM)`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-bench-ui-"));
  const dags = path.join(home, "dags");
  fs.mkdirSync(dags);
  fs.writeFileSync(path.join(dags, `${LARGE_DAG}.ts`), DAG_FILE);
  const databaseUrl = `sqlite://${path.join(home, "aloft.db")}`;
  const env = scenarioEnv(home, { ALOFT_DATABASE_URL: databaseUrl, ALOFT_DAGS_FOLDER: dags });
  let api;
  let browser;
  try {
    log(`ui: deploying a DAG of ${TASKS} tasks`);
    await aloft(env, "db", "migrate");
    await aloft(env, "deploy", dags);
    const seedStart = performance.now();
    const taskIds = await seedRuns(databaseUrl);
    log(`ui: wrote ${RUNS} runs, ${RUNS * taskIds.length} task instances in ${Math.round(performance.now() - seedStart)} ms`);
    await aloft(env, "users", "create", "--username", USER, "--role", "viewer", "--password", PASSWORD);
    const port = await freePort();
    const logFile = path.join(home, "api.log");
    api = startAloft(["api", "--port", String(port)], { env, logFile });
    const baseUrl = `http://127.0.0.1:${port}/`;
    for (let i = 0; ; i++) {
      const up = await fetch(`${baseUrl}api/v2/monitor/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 150) throw new Error(`aloft api did not start; its log:\n${tail(logFile, 30)}`);
      await sleep(200);
    }
    const token = (await (await fetch(`${baseUrl}auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: USER, password: PASSWORD }) })).json()).access_token;
    const requestTimes = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const response = await fetch(`${baseUrl}ui/api/dags/${LARGE_DAG}/grid?runs=${RUNS}`, { headers: { authorization: `Bearer ${token}` } });
      const body = await response.text();
      if (!response.ok) throw new Error(`the grid's request failed: ${response.status} ${body}`);
      requestTimes.push(Math.round(performance.now() - t0));
      bytes = body.length;
    }
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    const results = [];
    for (let trial = 1; trial <= trials; trial++) {
      const result = await measurePage(browser, baseUrl, taskIds.at(-1));
      log(`ui: trial ${trial}: ${JSON.stringify(result)}`);
      results.push(result);
    }
    const row = (label, key) => {
      const values = results.map((r) => r[key]);
      const verdict = key === "gridUsable" || key === "graph" ? (median(values) < TARGET_MS ? "met" : "MISSED") : "";
      return `| ${label} | ${Math.min(...values)} | ${median(values)} | ${Math.max(...values)} | ${verdict} |`;
    };
    console.log(`\n## Web UI, DAG of ${TASKS} tasks × ${RUNS} runs (${RUNS * TASKS} task instances), SQLite, ${trials} page loads, ms`);
    console.log(`grid data request: median ${median(requestTimes)} ms, ${(bytes / 1024).toFixed(0)} KiB`);
    console.log("| measure | min | median | max | target < 2000 ms |\n| --- | --- | --- | --- | --- |");
    console.log(row("grid: navigation → cells drawn", "gridCells"));
    console.log(row("grid: navigation → a clicked cell's details (usable)", "gridUsable"));
    console.log(row("grid: jump to the last row → its cells drawn", "gridLastRow"));
    console.log(row(`graph: navigation → ${results[0].graphNodes} boxes laid out and drawn`, "graph"));
    console.log(row("gantt: navigation → bars drawn", "gantt"));
  } finally {
    await browser?.close();
    if (api) await stopProcess(api);
    if (!keep) fs.rmSync(home, { recursive: true, force: true });
    else log(`ui: kept ${home}`);
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values } = parseArgs({ options: { trials: { type: "string", default: "3" }, keep: { type: "boolean", default: false }, build: { type: "boolean", default: false } } });
  killChildrenOnExit();
  await ensureBuilt(values.build);
  await runUiBench({ trials: Number(values.trials), keep: values.keep });
}
