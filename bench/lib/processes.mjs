/**
 * The bench's processes: the `aloft` CLI run to completion, long-running Node processes (standalone,
 * workers, bare-queue workers) with their output in a log file, and their cleanup on exit.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = path.join(ROOT, "bin", "aloft.js");

export const execFileAsync = promisify(execFile);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (message) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);
export const distModule = (relative) => import(pathToFileURL(path.join(ROOT, "dist", relative)).href);

export async function ensureBuilt(force) {
  if (!force && fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"))) return;
  log("building dist/ (npm run build)");
  await execFileAsync("npm", ["run", "build"], { cwd: ROOT });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The environment of a scenario: the caller's, minus its ALOFT_* settings, plus the scenario's. */
export function scenarioEnv(home, settings) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ALOFT_")));
  return { ...env, ALOFT_HOME: home, ...settings };
}

const children = new Set();

/** Runs one `aloft` CLI command to completion and returns its stdout. */
export async function aloft(env, ...args) {
  const { stdout } = await execFileAsync(process.execPath, [CLI, ...args], { env, cwd: ROOT });
  return stdout;
}

/**
 * Starts a long-running Node process (`script` and its `args`); its output goes to `logFile`.
 * With `cpuProfDir`, V8 writes a CPU profile of it there when it exits. With `ipc`, it gets an IPC channel.
 */
export function startNode(script, args, { env, logFile, cpuProfDir, ipc = false }) {
  const nodeFlags = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], {
    env,
    cwd: ROOT,
    stdio: ["ignore", out, out, ...(ipc ? ["ipc"] : [])],
  });
  fs.closeSync(out);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Starts an `aloft` command that keeps running (standalone, worker). */
export function startAloft(args, options) {
  return startNode(CLI, args, options);
}

/** SIGTERM (a graceful stop, which stops the runners too), then SIGKILL after `graceMs`. */
export async function stopProcess(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Throws when one of `processes` ({ name, child }) has exited: the run being waited for cannot finish. */
export function checkAlive(processes) {
  for (const { name, child } of processes) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode}`);
    }
  }
}

/** Last resort on exit or error: runners kill themselves when their parent goes away. */
function killAllNow() {
  for (const child of children) child.kill("SIGKILL");
}

/** Kills every process the bench started when it is interrupted or exits. */
export function killChildrenOnExit() {
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      killAllNow();
      process.exit(130);
    });
  }
  process.on("exit", killAllNow);
}

export function tail(file, lines) {
  try {
    return `${fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")}\n`;
  } catch {
    return "(no log)\n";
  }
}
