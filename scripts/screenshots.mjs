#!/usr/bin/env node
/**
 * Takes the README's screenshots of the web UI (docs/screenshots/*.png): starts `aloft standalone`
 * on a scratch SQLite file with the example DAGs, runs some of them, and photographs the main pages
 * in Debian's Chromium (playwright-core). Run after `npm run build`: node scripts/screenshots.mjs
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "docs", "screenshots");
const home = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-screenshots-"));

const port = await new Promise((resolve) => {
  const server = net.createServer().listen(0, "127.0.0.1", () => {
    const { port: free } = server.address();
    server.close(() => resolve(free));
  });
});
const env = { ...process.env, ALOFT_HOME: home, ALOFT_LOG_LEVEL: "warn" };
const standalone = spawn(process.execPath, [path.join(root, "bin", "aloft.js"), "standalone", "--port", String(port)], { env, stdio: ["ignore", "pipe", "inherit"] });
let stdout = "";
standalone.stdout.on("data", (chunk) => (stdout += chunk));
const baseUrl = `http://127.0.0.1:${port}/`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

let browser;
try {
  const password = await until("standalone's first admin password", async () => /password '([^']+)'/.exec(stdout)?.[1]);
  await until("the API", async () => (await fetch(`${baseUrl}api/v2/monitor/health`)).ok);
  const { access_token: token } = await (await fetch(`${baseUrl}auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password }) })).json();
  const call = async (method, url, body) => {
    const response = await fetch(baseUrl + url, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  // Some history to show: three runs of two example DAGs, one variable, one pool.
  const runs = [];
  for (const [dagId, conf] of [["fan_out_fan_in", {}], ["retries_and_params", { who: "ops" }], ["mapping_and_templates", {}], ["fan_out_fan_in", {}]]) {
    runs.push([dagId, (await call("POST", `api/v2/dags/${dagId}/dagRuns`, { logical_date: null, conf })).dag_run_id]);
    await sleep(1100);
  }
  await call("POST", "api/v2/variables", { key: "warehouse_schema", value: "analytics", description: "where the ETL writes" });
  await call("POST", "api/v2/pools", { name: "warehouse", slots: 4, description: "connections to the warehouse" });
  for (const [dagId, runId] of runs) {
    await until(`${dagId} ${runId} to finish`, async () => ["success", "failed"].includes((await call("GET", `api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`)).state));
  }

  fs.mkdirSync(out, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.ALOFT_TEST_CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1440, height: 860 }, deviceScaleFactor: 1 });
  await page.goto(baseUrl);
  await page.fill("#username", "admin");
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=who]");
  const [retriesDag, retriesRun] = runs[1];
  const shots = [
    ["dag-list", "#/dags", "[data-testid=dag-list] tbody tr"],
    ["dag-grid", `#/dags/fan_out_fan_in?tab=grid&run=${encodeURIComponent(runs[3][1])}&task=transform_orders`, "[data-testid=grid-cell]"],
    ["dag-graph", `#/dags/fan_out_fan_in?tab=graph`, "[data-testid=graph][data-laid-out=true]"],
    ["dag-gantt", `#/dags/fan_out_fan_in?tab=gantt`, "[data-testid=gantt-row]"],
    ["dag-code", `#/dags/retries_and_params?tab=code`, "pre"],
    ["task-log", `#/dags/${retriesDag}/runs/${encodeURIComponent(retriesRun)}/tasks/flaky?try=2`, "[data-testid=task-log]"],
    ["cluster", "#/cluster", "[data-testid=cluster]"],
    ["admin-pools", "#/admin/pools", "[data-testid=pools]"],
  ];
  for (const [name, hash, ready] of shots) {
    await page.goto(baseUrl + hash);
    await page.waitForSelector(ready, { timeout: 30_000 });
    await sleep(600);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
    console.log(`docs/screenshots/${name}.png`);
  }
} finally {
  await browser?.close();
  standalone.kill("SIGTERM");
  await new Promise((resolve) => standalone.once("exit", resolve));
  fs.rmSync(home, { recursive: true, force: true });
}
