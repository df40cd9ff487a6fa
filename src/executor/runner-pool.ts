/**
 * A pool of warm runner processes. Starting Node.js costs tens of milliseconds, so tries go to runners
 * that are already up; the pool keeps `warm` idle ones ready and grows (a few spawns at a time) while
 * tries wait. A try's timeout kills its runner's whole process group; a runner that died or ran many
 * tries is replaced, so a crashing or leaking task never harms the process that owns the pool.
 */
import { watchedChildEnv } from "../util/orphan-watchdog.js";
import { fork, type ChildProcess } from "node:child_process";
import type { Logger } from "../logging.js";
import { distModule } from "../paths.js";
import type { RuntimeService } from "../runtime/service.js";
import type { FromRunner, RuntimeCall, ToRunner, TryOutcome, TryRequest } from "./protocol.js";
import { logLine } from "./try-logs.js";

export interface RunnerPoolOptions {
  /** Most runner processes at once (one try each). */
  maxRunners: number;
  /** Idle runners kept started. */
  warm: number;
  logger: Logger;
  /** Tries a runner runs before it is replaced, to bound what a leaking task can hold. Default 500. */
  maxTriesPerRunner?: number;
  /** Idle runners beyond `warm` are stopped after this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** After a timeout's SIGTERM, how long before SIGKILL. Default 2 s. */
  killGraceMs?: number;
  /** Receives each try's log text, in order, as it arrives. */
  onLog: (request: TryRequest, text: string) => void;
  /** Answers the runtime calls of running tries (XCom, Variables, Connections). Default: none, calls fail. */
  runtime?: RuntimeService;
}

const MAX_CONCURRENT_SPAWNS = 2;
/**
 * About what starting a runner costs (CPU to start Node.js and import the DAG module). The pool grows
 * only when a try has waited that long and the queue would take longer than that to drain.
 */
const SPAWN_COST_MS = 150;
/** Window over which the pool measures how fast its runners finish tries. */
const RATE_WINDOW_MS = 500;

interface Runner {
  child: ChildProcess;
  ready: boolean;
  busy: boolean;
  tries: number;
  idleSince: number;
  current?: {
    request: TryRequest;
    resolve: (o: TryOutcome) => void;
    timer?: NodeJS.Timeout;
    /** Why the pool killed the runner during the try (timeout, shutdown). */
    killedBecause?: string;
    /** Why the try was stopped at its executor's request (`stop()`): it did not fail, it was ended. */
    stoppedBecause?: string;
  };
}

interface Waiting {
  request: TryRequest;
  resolve: (o: TryOutcome) => void;
  since: number;
}

export class RunnerPool {
  private readonly runners = new Set<Runner>();
  private readonly waiting: Waiting[] = [];
  private spawning = 0;
  private growTimer?: NodeJS.Timeout;
  /** When recent tries finished, oldest first (within RATE_WINDOW_MS). */
  private readonly finishedAt: number[] = [];
  private closed = false;
  private readonly reaper: NodeJS.Timeout;

  constructor(private readonly options: RunnerPoolOptions) {
    for (let i = 0; i < options.warm; i++) this.spawn();
    this.reaper = setInterval(() => this.maintain(), 1_000).unref();
  }

  /** Runs one try on a runner and resolves with its outcome (never rejects). */
  run(request: TryRequest): Promise<TryOutcome> {
    if (this.closed) return Promise.resolve({ state: "failed", error: "the runner pool is shut down" });
    return new Promise((resolve) => {
      this.waiting.push({ request, resolve, since: Date.now() });
      this.dispatch();
    });
  }

  /** Resolves once no try is running or waiting, or after `timeoutMs`, whichever comes first. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const busy = () => this.waiting.length > 0 || [...this.runners].some((r) => r.busy);
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops every runner; tries still running end as failed. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    if (this.growTimer) clearTimeout(this.growTimer);
    for (const w of this.waiting.splice(0)) w.resolve({ state: "failed", error: "the executor shut down before the try started" });
    const exits = [...this.runners].map(
      (r) => new Promise<void>((resolve) => (r.child.exitCode !== null ? resolve() : r.child.once("exit", () => resolve()))),
    );
    for (const runner of this.runners) {
      if (runner.current) runner.current.killedBecause = "the executor shut down while the try was running; its process tree was killed";
      this.killGroup(runner, "SIGKILL");
    }
    await Promise.all(exits);
  }

  /**
   * Stops the try of task instance `tiId`, waiting or running (its process group gets SIGTERM, then
   * SIGKILL after the grace period); the reason goes to the try's log, and its outcome is a failure.
   * Returns whether the try was found here.
   */
  stop(tiId: number, reason: string): boolean {
    const index = this.waiting.findIndex((w) => w.request.tiId === tiId);
    if (index >= 0) {
      const [work] = this.waiting.splice(index, 1);
      this.options.onLog(work!.request, logLine("WARN", `try stopped before it started: ${reason}`));
      work!.resolve({ state: "failed", error: reason });
      return true;
    }
    const runner = [...this.runners].find((r) => r.current?.request.tiId === tiId);
    if (!runner?.current) return false;
    if (runner.current.killedBecause === undefined && runner.current.stoppedBecause === undefined) {
      runner.current.stoppedBecause = reason;
      this.terminate(runner);
    }
    return true;
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const runner = [...this.runners].find((r) => r.ready && !r.busy);
      if (!runner) break;
      this.start(runner, this.waiting.shift()!);
    }
    if (this.waiting.length === 0) return;
    // Busy: a runner usually frees up sooner than a new one starts (short tries finish in a
    // millisecond), so grow only for tries that have waited longer than a start costs.
    const now = Date.now();
    const waited = now - this.waiting[0]!.since;
    if (waited >= SPAWN_COST_MS && this.drainEstimateMs(now) > SPAWN_COST_MS) {
      let missing = this.waiting.length - this.spawning;
      while (missing-- > 0 && this.hasRoomToSpawn()) this.spawn();
    } else if (!this.growTimer) {
      this.growTimer = setTimeout(() => {
        this.growTimer = undefined;
        this.dispatch();
      }, Math.max(1, SPAWN_COST_MS - waited));
    }
  }

  private hasRoomToSpawn(): boolean {
    return this.spawning < MAX_CONCURRENT_SPAWNS && this.runners.size < Math.max(this.options.maxRunners, this.options.warm);
  }

  /** How long the waiting tries would take to start at the rate runners have been finishing tries. */
  private drainEstimateMs(now: number): number {
    while (this.finishedAt.length > 0 && now - this.finishedAt[0]! > RATE_WINDOW_MS) this.finishedAt.shift();
    if (this.finishedAt.length === 0) return Infinity;
    return (this.waiting.length * RATE_WINDOW_MS) / this.finishedAt.length;
  }

  private start(runner: Runner, work: Waiting): void {
    runner.busy = true;
    runner.tries++;
    runner.current = { request: work.request, resolve: work.resolve };
    const timeoutMs = work.request.executionTimeoutMs;
    if (timeoutMs !== null && timeoutMs > 0) {
      runner.current.timer = setTimeout(() => this.timeOut(runner, timeoutMs), timeoutMs);
    }
    const message: ToRunner = { type: "run", request: work.request };
    runner.child.send(message);
  }

  private timeOut(runner: Runner, timeoutMs: number): void {
    if (!runner.current) return;
    runner.current.killedBecause = `execution timeout: the try ran longer than ${timeoutMs} ms; its process tree was killed`;
    this.terminate(runner);
  }

  /** SIGTERM to the runner's process group, SIGKILL after the grace period. */
  private terminate(runner: Runner): void {
    this.killGroup(runner, "SIGTERM");
    setTimeout(() => this.killGroup(runner, "SIGKILL"), this.options.killGraceMs ?? 2_000).unref();
  }

  private spawn(): void {
    this.spawning++;
    const child = fork(distModule("executor/runner-child.js"), [], {
      // Its own process group, so a timeout can kill the try's whole tree.
      detached: true,
      // Stack traces of failing tasks point at the DAG file, not the compiled module.
      execArgv: ["--enable-source-maps"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: watchedChildEnv(),
    });
    const runner: Runner = { child, ready: false, busy: false, tries: 0, idleSince: Date.now() };
    this.runners.add(runner);
    child.on("message", (message: FromRunner) => this.onMessage(runner, message));
    child.on("exit", (code, signal) => this.onExit(runner, code, signal));
    child.on("error", (error) => this.options.logger.error({ err: error.message }, "runner process error"));
  }

  private onMessage(runner: Runner, message: FromRunner): void {
    if (message.type === "ready") {
      runner.ready = true;
      runner.idleSince = Date.now();
      this.spawning--;
      this.dispatch();
      return;
    }
    if (!runner.current || message.tiId !== runner.current.request.tiId) return;
    if (message.type === "log") {
      this.options.onLog(runner.current.request, message.text);
      return;
    }
    if (message.type === "call") {
      this.answer(runner, runner.current.request, message);
      return;
    }
    const { request, resolve, timer, killedBecause, stoppedBecause } = runner.current;
    if (message.log) this.options.onLog(request, message.log);
    if (timer) clearTimeout(timer);
    runner.current = undefined;
    runner.busy = false;
    runner.idleSince = Date.now();
    this.finishedAt.push(runner.idleSince);
    if (stoppedBecause) resolve(this.stoppedByPool(request, stoppedBecause));
    else resolve(killedBecause ? this.failedByPool(request, killedBecause) : message.outcome);
    // A runner that was sent SIGTERM is on its way out: it must not take the next try.
    if (killedBecause || stoppedBecause || runner.tries >= (this.options.maxTriesPerRunner ?? 500)) this.retire(runner);
    this.dispatch();
  }

  /** Routes a runtime call to the service, for the try the pool knows runs on this runner, and replies. */
  private answer(runner: Runner, request: TryRequest, call: RuntimeCall): void {
    const reply = (message: ToRunner) => {
      if (runner.current?.request === request && runner.child.connected) runner.child.send(message);
    };
    const service = this.options.runtime;
    if (!service) {
      reply({ type: "reply", id: call.id, ok: false, error: "this executor offers no runtime service (XCom, Variables, Connections)" });
      return;
    }
    service.call(request, call.method, call.args).then(
      (value) => reply({ type: "reply", id: call.id, ok: true, value }),
      (error: unknown) => reply({ type: "reply", id: call.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  private onExit(runner: Runner, code: number | null, signal: NodeJS.Signals | null): void {
    this.runners.delete(runner);
    if (!runner.ready) this.spawning--;
    if (runner.current) {
      const { request, resolve, timer, killedBecause, stoppedBecause } = runner.current;
      if (timer) clearTimeout(timer);
      runner.current = undefined;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (stoppedBecause) resolve(this.stoppedByPool(request, stoppedBecause));
      else resolve(this.failedByPool(request, killedBecause ?? `the runner process running the try ${how}`));
    }
    if (!this.closed) this.dispatch();
  }

  /** A failure the runner could not report itself (it was killed or died): the pool logs it. */
  private failedByPool(request: TryRequest, error: string): TryOutcome {
    this.options.onLog(request, logLine("ERROR", `try ended: failed: ${error}`));
    return { state: "failed", error };
  }

  /** A try stopped on request: the reason goes to its log; the outcome is a failure its executor ignores. */
  private stoppedByPool(request: TryRequest, reason: string): TryOutcome {
    this.options.onLog(request, logLine("WARN", `try stopped: ${reason}`));
    return { state: "failed", error: reason };
  }

  private retire(runner: Runner): void {
    this.runners.delete(runner);
    this.killGroup(runner, "SIGTERM");
  }

  /**
   * Keeps `warm` idle runners for the next burst and stops idle ones beyond that after a while. Done
   * periodically rather than at each dispatch, where runners that are busy for a millisecond would
   * look like a reason to start more.
   */
  private maintain(): void {
    if (this.closed) return;
    const idle = [...this.runners].filter((r) => r.ready && !r.busy);
    const timeout = this.options.idleTimeoutMs ?? 60_000;
    for (const runner of idle.slice(this.options.warm)) {
      if (Date.now() - runner.idleSince > timeout) this.retire(runner);
    }
    let missing = this.options.warm - idle.length - this.spawning;
    while (missing-- > 0 && this.waiting.length === 0 && this.hasRoomToSpawn()) this.spawn();
  }

  private killGroup(runner: Runner, signal: NodeJS.Signals): void {
    const pid = runner.child.pid;
    if (pid === undefined || runner.child.exitCode !== null || runner.child.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      runner.child.kill(signal);
    }
  }
}

