/**
 * Where a scheduling child's start-up goes, measured apart from it (bench/failover.mjs runs this between
 * restart trials, so under the same load): Node's own boot (process uptime when the first line of user
 * code runs), the import of Aloft's modules, and opening the store (pool + `select 1`, as openStore does).
 *
 * Usage: node startup-probe.mjs cli|child DATABASE_URL
 *   cli    imports dist/cli/main.js (every command), for comparison;
 *   child  imports what the scheduling child's entry point (dist/ha/scheduler-child.js) imports: config, engine, store, logging.
 * Prints one JSON line: { bootMs, importMs, importCpuMs, openStoreMs }; importCpuMs is the CPU time (user +
 * system) the imports used, which the machine's other load does not stretch as it does the wall time.
 */
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const bootMs = process.uptime() * 1000;
const [mode, url] = process.argv.slice(2);
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "dist");
const load = (relative) => import(pathToFileURL(path.join(dist, relative)).href);

const importStart = performance.now();
const cpuStart = process.cpuUsage();
if (mode === "cli") {
  await load("cli/main.js");
} else {
  for (const relative of ["config.js", "logging.js", "store/db.js", "engine.js", "errors.js"]) await load(relative);
}
const importMs = performance.now() - importStart;
const cpu = process.cpuUsage(cpuStart);
const importCpuMs = (cpu.user + cpu.system) / 1000;

const { openStore } = await load("store/db.js");
const storeStart = performance.now();
const store = await openStore(url);
const openStoreMs = performance.now() - storeStart;
await store.close();
process.stdout.write(`${JSON.stringify({ bootMs: Math.round(bootMs), importMs: Math.round(importMs), importCpuMs: Math.round(importCpuMs), openStoreMs: Math.round(openStoreMs) })}\n`);
