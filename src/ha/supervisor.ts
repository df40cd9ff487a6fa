/**
 * Supervision of the active node's child: start it, judge its health by heartbeat (a hung child with a
 * live pid is dead), restart it with backoff, and give up after too many failed starts in a window so
 * that the controller steps down and another node takes over.
 *
 * Aloft's scheduling loop reports a heartbeat after each pass over its IPC channel, with the times of
 * its passes since the last one (passed on as the "passes" event). A generic command is healthy
 * while its process lives, or, when given, while its health command or URL answers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { Logger } from "../logging.js";
import type { ChildHealth } from "../store/schema.js";

import { FENCED_EXIT_CODE } from "./exit-codes.js";
import { watchedChildEnv } from "../util/orphan-watchdog.js";

export type ChildSpec =
  | { kind: "aloft"; program: string; args: string[]; env: NodeJS.ProcessEnv }
  | { kind: "command"; command: string; args: string[]; env: NodeJS.ProcessEnv; healthCommand?: string; healthUrl?: string };

export interface SupervisionOptions {
  childTimeoutMs: number;
  /** Until its first heartbeat (or passing check), a child is starting and is given this long instead. */
  childStartupTimeoutMs: number;
  stopTimeoutMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  logger: Logger;
  /** Asked before every (re)start: only a node sure of its lease may start a child. */
  mayStart(): boolean;
}

export interface SupervisorEvents {
  started: [pid: number];
  exited: [pid: number, code: number | null, signal: string | null];
  health: [health: ChildHealth];
  gaveUp: [reason: string];
  fenced: [];
  /** Aloft's child reported the times of its scheduling passes since its last heartbeat. */
  passes: [durationsMs: number[]];
}

const GUARD = fileURLToPath(new URL("./child-guard.js", import.meta.url));
const MAX_BACKOFF_MS = 10_000;

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private child: ChildProcess | null = null;
  /** The supervised command's own pid (for a generic command: the guard's child, leader of its group). */
  private commandPid: number | null = null;
  private exited: Promise<void> = Promise.resolve();
  private running = false;
  private epoch = 0;
  private failures: number[] = [];
  private lastHealthy = 0;
  private currentHealth: ChildHealth | null = null;
  private healthTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly spec: ChildSpec,
    private readonly options: SupervisionOptions,
  ) {
    super();
  }

  get pid(): number | null {
    return this.commandPid;
  }

  get health(): ChildHealth | null {
    return this.currentHealth;
  }

  /** Starts supervising a child for `epoch` (the lease it may act under). */
  run(epoch: number): void {
    this.epoch = epoch;
    this.running = true;
    this.failures = [];
    this.spawnChild();
    const every = Math.max(100, Math.min(1_000, this.options.childTimeoutMs / 5));
    this.healthTimer = setInterval(() => this.checkHealth(), every);
  }

  /**
   * Stops supervising and stops the child: SIGTERM first when `graceful` (SIGKILL after
   * `timeoutMs`), SIGKILL at once otherwise. Resolves once the child has exited.
   */
  async stop(graceful: boolean, timeoutMs = this.options.stopTimeoutMs): Promise<void> {
    this.running = false;
    clearInterval(this.healthTimer);
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    if (graceful) {
      this.signal("SIGTERM");
      const killer = setTimeout(() => {
        this.options.logger.warn({ pid: this.commandPid, timeout_ms: timeoutMs }, "child did not stop in time; killing it");
        this.signal("SIGKILL");
      }, timeoutMs);
      await this.exited;
      clearTimeout(killer);
    } else {
      this.signal("SIGKILL");
      await this.exited;
    }
  }

  private spawnChild(): void {
    const { spec, options } = this;
    // watchedChildEnv names this process to the child, whose watchdog compares it with its parent.
    const env = { ...spec.env, ALOFT_PARENT_PID: watchedChildEnv().ALOFT_PARENT_PID, ALOFT_HA_EPOCH: String(this.epoch) };
    const child =
      spec.kind === "aloft"
        ? spawn(process.execPath, [spec.program, ...spec.args], { env, stdio: ["ignore", "inherit", "inherit", "ipc"] })
        : spawn(process.execPath, [GUARD, spec.command, ...spec.args], { env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child = child;
    this.commandPid = spec.kind === "aloft" ? (child.pid ?? null) : null;
    this.lastHealthy = performance.now();
    this.setHealth("starting");
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        const pid = this.commandPid ?? child.pid ?? 0;
        this.child = null;
        this.commandPid = null;
        this.setHealth(null);
        this.emit("exited", pid, code, signal);
        resolve();
        if (this.running) this.onUnexpectedExit(code, signal);
      });
    });
    child.on("error", (error) => options.logger.error({ err: error.message }, "could not start the child"));
    child.on("message", (message: { type?: string; pid?: number; passMs?: unknown }) => {
      if (message.type === "pid" && message.pid) {
        this.commandPid = message.pid;
        this.emit("started", message.pid);
        if (spec.kind === "command" && !spec.healthCommand && !spec.healthUrl) this.markHealthy();
      } else if (message.type === "heartbeat") {
        this.markHealthy();
        const passes = Array.isArray(message.passMs) ? message.passMs.filter((ms): ms is number => typeof ms === "number" && Number.isFinite(ms) && ms >= 0) : [];
        if (passes.length > 0) this.emit("passes", passes);
      }
    });
    if (spec.kind === "aloft" && child.pid) this.emit("started", child.pid);
  }

  private onUnexpectedExit(code: number | null, signal: string | null): void {
    if (code === FENCED_EXIT_CODE) {
      this.running = false;
      clearInterval(this.healthTimer);
      this.emit("fenced");
      return;
    }
    const now = performance.now();
    this.failures = [...this.failures.filter((t) => now - t < this.options.restartWindowMs), now];
    if (this.failures.length > this.options.maxRestarts) {
      this.running = false;
      clearInterval(this.healthTimer);
      this.emit(
        "gaveUp",
        `the child failed ${this.failures.length} times within ${Math.round(this.options.restartWindowMs / 1000)} s ` +
          `(ha_max_restarts ${this.options.maxRestarts}); last exit: ${signal ?? `code ${code}`}`,
      );
      return;
    }
    // The first restart is at once (a crash is usually a one-off); then 250 ms doubling up to 10 s.
    const delay = this.failures.length <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (this.failures.length - 2));
    this.options.logger.warn({ exit_code: code, signal, restart_in_ms: delay, failures_in_window: this.failures.length }, "child exited; restarting it");
    this.restartTimer = setTimeout(() => {
      if (!this.running) return;
      if (!this.options.mayStart()) {
        this.options.logger.warn("not restarting the child: this node is not sure of its lease");
        return;
      }
      this.spawnChild();
    }, delay);
  }

  private markHealthy(): void {
    this.lastHealthy = performance.now();
    if (this.currentHealth !== "healthy") this.setHealth("healthy");
  }

  private setHealth(health: ChildHealth | null): void {
    if (health === this.currentHealth) return;
    this.currentHealth = health;
    if (health) this.emit("health", health);
  }

  private checkHealth(): void {
    if (!this.child) return;
    const { spec } = this;
    // A generic command without a health check is healthy while its process lives.
    if (spec.kind === "command" && !spec.healthCommand && !spec.healthUrl) return;
    if (spec.kind === "command" && !this.checking) {
      this.checking = true;
      void probe(spec, this.options.childTimeoutMs / 2)
        .then((ok) => ok && this.child && this.markHealthy())
        .finally(() => (this.checking = false));
    }
    const starting = this.currentHealth === "starting";
    const timeoutMs = starting ? this.options.childStartupTimeoutMs : this.options.childTimeoutMs;
    if (performance.now() - this.lastHealthy <= timeoutMs) return;
    this.setHealth("unhealthy");
    this.options.logger.error(
      { pid: this.commandPid, silent_ms: Math.round(performance.now() - this.lastHealthy), timeout_ms: timeoutMs },
      starting
        ? "child unhealthy: not healthy within ha_child_startup_timeout_ms of its start; killing it"
        : "child unhealthy: no heartbeat within ha_child_timeout_ms; killing it",
    );
    this.lastHealthy = performance.now(); // one kill per timeout
    this.signal("SIGKILL");
  }

  private signal(signal: NodeJS.Signals): void {
    const child = this.child;
    if (!child) return;
    try {
      // A generic command leads its own process group: signal all of it; the guard follows it out.
      if (this.spec.kind === "command" && this.commandPid) process.kill(-this.commandPid, signal);
      else child.kill(signal);
      if (signal === "SIGKILL" && this.spec.kind === "command") child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** One health check of a generic command: its health command exits 0, or its URL answers 2xx. */
function probe(spec: Extract<ChildSpec, { kind: "command" }>, timeoutMs: number): Promise<boolean> {
  if (spec.healthUrl) {
    return fetch(spec.healthUrl, { signal: AbortSignal.timeout(timeoutMs) })
      .then((response) => response.ok)
      .catch(() => false);
  }
  return new Promise((resolve) => {
    const check = spawn("bash", ["-c", spec.healthCommand!], { stdio: "ignore", timeout: timeoutMs, killSignal: "SIGKILL" });
    check.on("error", () => resolve(false));
    check.on("close", (code) => resolve(code === 0));
  });
}
