/**
 * Runs a supervised command (`node child-guard.js CMD [ARGS…]`) in a process group of its own and ties
 * it to the controller: when the controller's channel closes (it died, even by kill -9), the whole
 * group is killed at once, so an orphaned singleton never keeps running beside the next leader's.
 */
import { spawn } from "node:child_process";
import os from "node:os";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("child-guard: no command given\n");
  process.exit(2);
}

const child = spawn(command, args, { stdio: "inherit", detached: true });
const signalGroup = (signal: NodeJS.Signals) => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
};

child.on("spawn", () => process.send?.({ type: "pid", pid: child.pid }));
child.on("error", (error) => {
  process.stderr.write(`aloft controller: cannot start '${command}': ${error.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  signalGroup("SIGKILL"); // what the command left behind in its group goes with it
  process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
});
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => signalGroup(signal));
process.on("disconnect", () => {
  signalGroup("SIGKILL");
  process.exit(1);
});
