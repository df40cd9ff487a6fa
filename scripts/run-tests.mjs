#!/usr/bin/env node
/**
 * The test command (`npm test`): builds, says which dialect suites run, runs every test file with
 * node's test runner, and ends with a line `N passed, N failed`.
 *
 * SQLite always runs. PostgreSQL and MySQL/MariaDB run when their URL is set:
 *   ALOFT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
 *   ALOFT_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test
 * (each test file creates and drops its own database on that server).
 * The browser suites (the web UI, in Chromium driven by playwright-core) run when Debian's chromium
 * is installed, or ALOFT_TEST_CHROMIUM names a Chromium.
 * The broker suites run when their URL is set (the Redis restart test restarts the server with
 * ALOFT_TEST_REDIS_START, default the machine's own command):
 *   ALOFT_TEST_REDIS_URL=redis://127.0.0.1:6379
 *   ALOFT_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

const build = spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
if (build.status !== 0) {
  console.error("build failed: fix the TypeScript or UI build errors above");
  process.exit(1);
}

const suites = [
  ["PostgreSQL", "ALOFT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"],
  ["MySQL/MariaDB", "ALOFT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"],
  ["Redis broker", "ALOFT_TEST_REDIS_URL", "redis://127.0.0.1:6379"],
  ["RabbitMQ broker", "ALOFT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672"],
];
console.log("suites: SQLite runs");
for (const [name, env, example] of suites) {
  if (process.env[env]) console.log(`suites: ${name} runs (${env} is set)`);
  else console.log(`suites: ${name} SKIPPED; to enable it set ${env}, e.g. ${env}=${example}`);
}

const chromium = process.env.ALOFT_TEST_CHROMIUM || (fs.existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : "");
if (chromium) console.log(`suites: browser (web UI) runs with ${chromium}`);
else console.log("suites: browser (web UI) SKIPPED; to enable it install Debian's chromium (apt-get install chromium) or set ALOFT_TEST_CHROMIUM");

const only = process.argv.slice(2);
const files = only.length > 0 ? only : listTests("test");
const tapFile = path.join(root, ".test-results.tap");
const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { stdio: "inherit", env: { ...process.env, ALOFT_LOG_LEVEL: process.env.ALOFT_LOG_LEVEL ?? "warn" } },
);
child.on("exit", (code) => {
  const tap = fs.existsSync(tapFile) ? fs.readFileSync(tapFile, "utf8") : "";
  const count = (key) => Number(new RegExp(`^# ${key} (\\d+)$`, "m").exec(tap)?.[1] ?? 0);
  const passed = count("pass");
  const failed = count("fail") + count("cancelled");
  console.log(`${passed} passed, ${failed} failed, ${count("skipped")} skipped`);
  process.exit(code ?? 1);
});

function listTests(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}
