/** Runs the real `aloft` command: one-off CLI calls and a standalone process, each with its own home. */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(ROOT, "bin/aloft.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`aloft ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `aloft-${prefix}-`));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A standalone process on a given DB and DAG folder, plus the CLI pointed at the same home and DB. */
export class Standalone {
  readonly home = tempDir("home");
  readonly env: NodeJS.ProcessEnv;
  private child?: ChildProcess;
  stderr = "";
  stdout = "";
  port = 0;

  constructor(
    readonly databaseUrl: string,
    readonly dagsFolder: string,
    extraEnv: NodeJS.ProcessEnv = {},
  ) {
    this.env = { ALOFT_HOME: this.home, ALOFT_DATABASE_URL: databaseUrl, ALOFT_DAGS_FOLDER: dagsFolder, ...extraEnv };
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.child = spawn(process.execPath, [BIN, "standalone", "--port", String(this.port)], {
      env: { ...process.env, ...this.env, ALOFT_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    await waitFor("standalone to start", async () => (this.stderr.includes("Aloft standalone is running") ? true : undefined), 60_000);
  }

  get pid(): number {
    return this.child!.pid!;
  }

  cli(args: string[]): Promise<CliResult> {
    return runCli(args, this.env);
  }

  async cliJson<T>(args: string[]): Promise<T> {
    const result = await this.cli([...args, "--json"]);
    if (result.code !== 0) throw new Error(`aloft ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  async trigger(dagId: string, extra: string[] = []): Promise<string> {
    const out = await this.cliJson<{ run_id: string }>(["dags", "trigger", dagId, ...extra]);
    return out.run_id;
  }

  /** Waits until the run is success or failed and returns its state and task states. */
  async waitForRun(dagId: string, runId: string, timeoutMs = 60_000): Promise<{ state: string; tasks: Record<string, string | null> }> {
    const state = await waitFor(
      `run ${runId} of ${dagId} to finish`,
      async () => {
        const runs = await this.cliJson<Array<{ run_id: string; state: string }>>(["dags", "list-runs", dagId]);
        const run = runs.find((r) => r.run_id === runId);
        return run && (run.state === "success" || run.state === "failed") ? run.state : undefined;
      },
      timeoutMs,
      300,
    );
    return { state, tasks: await this.taskStates(dagId, runId) };
  }

  async taskStates(dagId: string, runId: string): Promise<Record<string, string | null>> {
    const rows = await this.cliJson<Array<{ task_id: string; state: string | null }>>(["tasks", "states", dagId, runId]);
    return Object.fromEntries(rows.map((r) => [r.task_id, r.state]));
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  cleanup(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

export function writeDags(files: Record<string, string>): string {
  const dir = tempDir("dags");
  for (const [name, code] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), code);
  return dir;
}

/** Every process below `pid` (Linux: read from /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * From "start <ms>" / "end <ms>" lines that tasks append as they begin and finish: how many marks
 * there are and the most tasks that were running at once.
 */
export function concurrency(lines: string[]): { marks: number; most: number } {
  const events = lines
    .map((line) => line.split(" "))
    .map(([kind, at]): [number, number] => [Number(at), kind === "start" ? 1 : -1])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let most = 0;
  for (const [, delta] of events) most = Math.max(most, (running += delta));
  return { marks: events.length, most };
}
