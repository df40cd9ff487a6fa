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

/** Names the forking process to the child, so that a child whose parent died before it started notices. */
const PARENT_PID_ENV = "ALOFT_PARENT_PID";

/** The environment for a child that calls `dieWithParent`: this process's, plus its pid. */
export function watchedChildEnv(): NodeJS.ProcessEnv {
  return { ...process.env, [PARENT_PID_ENV]: String(process.pid) };
}

export function dieWithParent(options: { wholeGroup: boolean; everyMs?: number }): void {
  const target = options.wholeGroup ? -process.pid : process.pid;
  // process.ppid read now would already be the new parent if the forking process died while this one
  // started (its last message can still be in the channel): compare with the pid it gave us instead.
  const parent = Number(process.env[PARENT_PID_ENV]) || process.ppid;
  delete process.env[PARENT_PID_ENV]; // not passed on to the tasks' own commands
  if (process.ppid !== parent) {
    // Orphaned before it started: nothing it would do (a try still in its channel) has an owner.
    try {
      process.kill(target, "SIGKILL");
    } catch {
      process.exit(1);
    }
  }
  const worker = new Worker(WATCHDOG, { eval: true, workerData: { parent, target, everyMs: options.everyMs ?? 500 } });
  worker.unref();
}
