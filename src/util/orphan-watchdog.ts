/**
 * Makes a child process die with its parent even while its event loop is blocked (a DAG file that
 * loops at import, a task that spins): a worker thread, which keeps running, polls the parent pid and
 * kills `target` (the process, or its whole group) once the process has been reparented.
 */
import { Worker } from "node:worker_threads";

const WATCHDOG = `
const { workerData } = require("node:worker_threads");
setInterval(() => {
  if (process.ppid !== workerData.parent) {
    try { process.kill(workerData.target, "SIGKILL"); } catch { process.exit(1); }
  }
}, workerData.everyMs);
`;

export function dieWithParent(options: { wholeGroup: boolean; everyMs?: number }): void {
  const target = options.wholeGroup ? -process.pid : process.pid;
  const worker = new Worker(WATCHDOG, { eval: true, workerData: { parent: process.ppid, target, everyMs: options.everyMs ?? 500 } });
  worker.unref();
}
