/**
 * A runner process: kept warm by the runner pool, it runs one try at a time, sent over IPC, and
 * answers with the outcome. It leads its own process group, so the pool can kill a try's whole
 * process tree (bash children included) on timeout; it exits when its parent goes away.
 */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { takeRegisteredDags } from "../dag/registry.js";
import { taskLabel } from "../dag/validate.js";
import type { Dag, TaskContext, TaskLogger } from "../dag/types.js";
import { isFailTask, isSkipTask } from "../dag/signals.js";
import type { FromRunner, ToRunner, TryOutcome, TryRequest } from "./protocol.js";
import { dieWithParent } from "../util/orphan-watchdog.js";
import { logLine } from "./try-logs.js";
import { bashBranchChoice, branchOutcome, pokeResult, runSensor, shortCircuitOutcome } from "./structure-outcome.js";
import { callbackFor, runTaskCallback } from "./task-callbacks.js";
import { RuntimeClient, TryRuntime } from "../runtime/runner-runtime.js";
import { renderTemplates } from "../runtime/templates.js";
import { RETURN_VALUE_KEY } from "../runtime/xcom.js";
import { describeEnvironmentLayers, resolveTaskEnvironment, type EnvironmentLayer, type ResolvedEnvironment } from "./task-environment.js";
import { PreambleTracker, preambleScript, runPreambles } from "./preambles.js";

/** Airflow's BashOperator convention: exit code 99 means "skip this task". */
const BASH_SKIP_EXIT_CODE = 99;

const modules = new Map<string, Map<string, Dag>>();

function send(message: FromRunner): void {
  // A send to an executor that is gone would crash this process and leave the try's commands behind.
  if (!process.connected) return orphaned();
  process.send?.(message, undefined, undefined, (error) => {
    if (error) orphaned();
  });
}

/** The executor is gone: take the whole group (running bash commands too) with us. */
function orphaned(): void {
  try {
    process.kill(-process.pid, "SIGKILL");
  } catch {
    process.exit(1);
  }
}

// Even while a task blocks the event loop, the runner and its commands go when the executor goes, and
// soon: the next scheduler on this host resets the tries of a dead one as soon as it has started.
dieWithParent({ wholeGroup: true, everyMs: 50 });
process.on("disconnect", orphaned);

const runtimeClient = new RuntimeClient((call) => send(call));
/** The running try's runtime (its secrets are masked in everything it logs) and, when mapped, its item. */
let runtime: TryRuntime | undefined;
let currentItem: unknown;

process.on("message", (message: ToRunner) => {
  if (message.type === "reply") runtimeClient.onReply(message);
  // A run message read after the executor died (it was still in the channel) starts nothing.
  else if (message.type === "run") void (process.connected ? runTry(message.request) : orphaned());
});

send({ type: "ready" });

/**
 * The running try's log text not yet sent to the executor. Writes made together go in one message
 * (sent on the next turn of the event loop, or with the outcome), and what is pending is sent before
 * the process exits, so a task that exits or crashes still leaves its output.
 */
let pendingLog = "";
let currentTi: number | undefined;
let flushScheduled: NodeJS.Immediate | undefined;

function writeLog(text: string): void {
  // Output after a try ended (a stray timer) must not land, unmasked, in the next try's log.
  if (!runtime) return;
  pendingLog += text;
  flushScheduled ??= setImmediate(flushLog);
}

function flushLog(final = false): void {
  flushScheduled = undefined;
  if (!pendingLog || currentTi === undefined) return;
  const text = takeLog(final);
  if (text) send({ type: "log", tiId: currentTi, text });
}

/**
 * The pending log text with the try's secrets masked. Unless `final`, a tail that could be the start
 * of a secret stays pending, so a secret split across two writes is still masked once it is whole.
 */
function takeLog(final = true): string {
  if (flushScheduled) clearImmediate(flushScheduled);
  flushScheduled = undefined;
  const masked = runtime ? runtime.mask(pendingLog) : pendingLog;
  const held = final || !runtime ? 0 : runtime.secretPrefixAtEnd(masked);
  pendingLog = held > 0 ? masked.slice(masked.length - held) : "";
  return masked.slice(0, masked.length - held);
}

// IPC writes to an idle pipe go out at once, so flushing here reaches the executor before the exit.
const exit = process.exit.bind(process);
process.exit = ((code?: number) => {
  flushLog(true);
  return exit(code);
}) as typeof process.exit;
process.on("uncaughtException", (error) => {
  writeLog(logLine("ERROR", `uncaught exception, the runner stops: ${describeError(error)}`));
  process.exit(70);
});

async function runTry(request: TryRequest): Promise<void> {
  currentTi = request.tiId;
  runtime = new TryRuntime(runtimeClient, request);
  currentItem = undefined;
  const rt = runtime;
  const write = writeLog;
  const mapped = request.mapIndex >= 0 ? ` map index ${request.mapIndex}` : "";
  write(logLine("INFO", `starting try ${request.tryNumber} of ${request.dagId}.${request.taskId}${mapped} (run ${request.runId}) in runner pid ${process.pid}`));
  const environment = describeEnvironmentLayers(environmentLayers(request, request.env));
  if (environment) write(logLine("INFO", `task environment (variable names only): ${environment}`));
  let outcome: TryOutcome;
  const withCallbacks = await callbackTask(request);
  try {
    if (request.mapIndex >= 0) currentItem = await rt.mapItem();
    if (withCallbacks) await runCallback(request, withCallbacks, "onExecute", undefined);
    outcome = request.kind === "bash" ? await runBashTask(request, rt, write) : await runFunction(request, rt, write);
  } catch (error) {
    outcome = { state: "failed", error: describeError(error) };
  }
  if (withCallbacks) {
    const name = callbackFor(request, outcome);
    if (name) await runCallback(request, withCallbacks, name, outcome.error);
    outcome.callbacksRan = true;
  }
  const detail = outcome.error ? `: ${outcome.error}` : "";
  write(logLine(outcome.state === "failed" ? "ERROR" : "INFO", `try ended: ${outcome.state}${detail}`));
  send({ type: "done", tiId: request.tiId, outcome, log: takeLog() });
  currentTi = undefined;
  runtime = undefined;
}

/** The try's task environment: the node's layers for its queue, then the task's own (`env` as rendered). */
function environmentLayers(request: TryRequest, env: Record<string, string>): EnvironmentLayer[] {
  return [...(request.nodeEnvironment ?? []), { scope: "task", env, path: request.path, preamble: request.preamble }];
}

function taskEnvironment(request: TryRequest, env: Record<string, string>): ResolvedEnvironment {
  return resolveTaskEnvironment(environmentLayers(request, env), process.env.PATH);
}

function contextEnv(request: TryRequest): Record<string, string> {
  return {
    ALOFT_DAG_ID: request.dagId,
    ALOFT_TASK_ID: request.taskId,
    ALOFT_RUN_ID: request.runId,
    ALOFT_TRY_NUMBER: String(request.tryNumber),
    ALOFT_LOGICAL_DATE: new Date(request.logicalDate).toISOString(),
    ALOFT_DS: new Date(request.logicalDate).toISOString().slice(0, 10),
    ALOFT_MAP_INDEX: String(request.mapIndex),
  };
}

/** The DAG and task whose callbacks this try fires, when the task defines any. */
async function callbackTask(request: TryRequest): Promise<{ dag: Dag; task: NonNullable<ReturnType<Dag["tasks"]["get"]>> } | undefined> {
  if (!request.callbacks || request.callbacks.length === 0) return undefined;
  try {
    const dag = (await loadDags(request)).get(request.dagId);
    const task = dag?.tasks.get(request.taskId);
    return dag && task ? { dag, task } : undefined;
  } catch (error) {
    writeLog(logLine("ERROR", `could not load the DAG module for the task's callbacks: ${describeError(error)}`));
    return undefined;
  }
}

async function runCallback(
  request: TryRequest,
  target: NonNullable<Awaited<ReturnType<typeof callbackTask>>>,
  name: Parameters<typeof runTaskCallback>[2],
  error: string | undefined,
): Promise<void> {
  const restoreOutput = captureOutput(writeLog);
  try {
    await runTaskCallback(target.dag, target.task, name, makeContext(request, writeLog), error, (level, message) => writeLog(logLine(level, message)));
  } finally {
    restoreOutput();
  }
}

/**
 * A bash task; a bash sensor checks by running its command (exit 0: done; any other code: not yet).
 * The command and env are rendered once per try, before the first run.
 */
async function runBashTask(request: TryRequest, rt: TryRuntime, write: (text: string) => void): Promise<TryOutcome> {
  const rendered = await renderBash(request, rt, currentItem);
  if (request.operator === "branch") return runBashBranch(request, rendered, write);
  if (!request.sensor) return runBash(request, rendered, write, { pushXcom: request.xcomPush !== false, rt });
  return runSensor(
    request.sensor,
    async () => ({ done: (await runBash(request, rendered, write)).state === "success" }),
    (message) => write(logLine("INFO", message)),
  );
}

/** A bash branch: the command's last line of output names the chosen direct downstream tasks. */
async function runBashBranch(request: TryRequest, rendered: RenderedBash, write: (text: string) => void): Promise<TryOutcome> {
  let stdout = "";
  const outcome = await runBash(request, rendered, write, { onStdout: (text) => (stdout += text) });
  if (outcome.state !== "success") return outcome;
  const task = (await loadDags(request)).get(request.dagId)?.tasks.get(request.taskId);
  if (!task) return { state: "failed", error: `task ${request.taskId} of DAG ${request.dagId} is not defined by module ${request.moduleHash}` };
  const outcomeOfChoice = branchOutcome(task, bashBranchChoice(stdout));
  delete outcomeOfChoice.resultJson;
  return outcomeOfChoice;
}

/** The last line of a stream (the one before a final newline), keeping at most `cap` characters of it. */
class LastLine {
  private complete = "";
  private partial = "";
  seen = false;

  constructor(private readonly cap: number) {}

  add(text: string): void {
    if (text === "") return;
    this.seen = true;
    const parts = text.split("\n");
    if (parts.length === 1) {
      this.partial = (this.partial + text).slice(0, this.cap);
      return;
    }
    this.complete = (parts.length === 2 ? this.partial + parts[0] : parts[parts.length - 2]!).slice(0, this.cap);
    this.partial = parts[parts.length - 1]!.slice(0, this.cap);
  }

  value(): string {
    return (this.partial !== "" ? this.partial : this.complete).replace(/\r$/, "");
  }
}

function isTemplate(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text);
}

/** Renders the command and env values of a bash try and stores them (secrets masked) for `aloft tasks render`. */
interface RenderedBash {
  command: string;
  env: Record<string, string>;
}

async function renderBash(request: TryRequest, rt: TryRuntime, item: unknown): Promise<RenderedBash> {
  const templates: Record<string, string> = { "the command": request.command ?? "" };
  for (const [name, value] of Object.entries(request.env)) templates[`env ${name}`] = value;
  // Plain commands (most) need no rendering and nothing stored: `tasks render` shows them as defined.
  if (!Object.values(templates).some(isTemplate)) return { command: request.command ?? "", env: request.env };
  const logicalDate = new Date(request.logicalDate);
  const rendered = await renderTemplates(
    taskLabel(request.dagId, request.taskId),
    templates,
    {
      dagId: request.dagId,
      taskId: request.taskId,
      runId: request.runId,
      logicalDate,
      dataIntervalStart: new Date(request.dataIntervalStart),
      dataIntervalEnd: new Date(request.dataIntervalEnd),
      tryNumber: request.tryNumber,
      mapIndex: request.mapIndex,
      item,
      params: { ...request.params, ...request.conf },
      conf: request.conf,
    },
    rt.templateSources(),
  );
  const env = Object.fromEntries(Object.keys(request.env).map((name) => [name, rendered[`env ${name}`]!]));
  const command = rendered["the command"]!;
  await rt.storeRendered({ command: rt.mask(command), env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, rt.mask(v)])) });
  return { command, env };
}

interface RunBashOptions {
  /** Store the last line of stdout as return_value (Airflow's do_xcom_push); needs `rt`. */
  pushXcom?: boolean;
  rt?: TryRuntime;
  onStdout?: (text: string) => void;
}

function runBash(request: TryRequest, rendered: RenderedBash, write: (text: string) => void, options: RunBashOptions = {}): Promise<TryOutcome> {
  write(logLine("INFO", `running bash command: ${rendered.command}`));
  const itemEnv = request.mapIndex >= 0 ? { ALOFT_ITEM: typeof currentItem === "string" ? currentItem : (JSON.stringify(currentItem) ?? "") } : {};
  const lastLine = new LastLine((request.xcomMaxBytes ?? 1_048_576) + 1);
  const environment = taskEnvironment(request, rendered.env);
  // Preambles run first in the same shell; the shell tells on fd 3 which one it is in.
  const preambles = environment.preambles.length > 0 ? new PreambleTracker(environment.preambles) : undefined;
  const script = preambles ? preambleScript(environment.preambles, rendered.command) : rendered.command;
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], {
      env: { ...process.env, ...contextEnv(request), ...itemEnv, ...environment.env },
      stdio: preambles ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
    });
    if (preambles) preambles.follow(child.stdio[3] as Readable);
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      lastLine.add(text);
      write(text);
      options.onStdout?.(text);
    });
    child.stderr!.setEncoding("utf8").on("data", write);
    child.on("error", (error) => resolve({ state: "failed", error: `could not start bash: ${error.message}` }));
    // "close", not "exit": all of the command's output has been read by then.
    child.on("close", (code, signal) => {
      const preambleFailure = preambles?.failure(code, signal);
      if (preambleFailure) return resolve({ state: "failed", error: preambleFailure });
      if (code === 0) {
        if (!options.pushXcom || !options.rt || !lastLine.seen) return resolve({ state: "success" });
        try {
          resolve({ state: "success", resultJson: options.rt.xcomJson(RETURN_VALUE_KEY, lastLine.value()) });
        } catch (error) {
          resolve({ state: "failed", error: (error as Error).message });
        }
      } else if (code === BASH_SKIP_EXIT_CODE) resolve({ state: "skipped" });
      else if (signal) resolve({ state: "failed", error: `bash command was killed by ${signal}` });
      else resolve({ state: "failed", error: `bash command exited with code ${code}` });
    });
  });
}

async function runFunction(request: TryRequest, rt: TryRuntime, write: (text: string) => void): Promise<TryOutcome> {
  const dag = (await loadDags(request)).get(request.dagId);
  const task = dag?.tasks.get(request.taskId);
  if (!task?.fn) {
    return {
      state: "failed",
      error: `task ${request.taskId} of DAG ${request.dagId} is not a function task of module ${request.moduleHash}`,
    };
  }
  const environment = taskEnvironment(request, request.env);
  const restoreEnv = applyEnv({ ...contextEnv(request), ...environment.env });
  const restoreOutput = captureOutput(write);
  let restorePreambleEnv = () => {};
  try {
    if (environment.preambles.length > 0) {
      // The preambles run in bash; the variables they leave are the try's until it ends.
      const result = await runPreambles(environment.preambles, { ...process.env }, write);
      if (!result.ok) return { state: "failed", error: result.error };
      restorePreambleEnv = applyEnv(result.changes);
    }
    const context = makeContext(request, write);
    if (request.sensor) {
      const fn = task.fn;
      return await runSensor(request.sensor, async () => pokeResult(await fn(context)), (message) => write(logLine("INFO", message)));
    }
    const result = await task.fn(context);
    if (task.operator === "branch") return branchOutcome(task, result);
    if (task.operator === "shortCircuit") return shortCircuitOutcome(task, result);
    if (result === undefined) return { state: "success" };
    try {
      return { state: "success", resultJson: rt.xcomJson(RETURN_VALUE_KEY, result) };
    } catch (error) {
      return { state: "failed", error: (error as Error).message };
    }
  } catch (error) {
    if (isSkipTask(error)) return { state: "skipped" };
    if (isFailTask(error)) return { state: "failed", error: describeError(error), noRetry: true };
    throw error;
  } finally {
    restoreOutput();
    restorePreambleEnv();
    restoreEnv();
  }
}

/** The DAGs of the try's module (the executor resolved its local file into `modulePath`). */
async function loadDags(request: TryRequest): Promise<Map<string, Dag>> {
  const modulePath = request.modulePath;
  if (!modulePath) throw new Error(`the try of ${request.dagId}.${request.taskId} came without the local file of its module ${request.moduleHash}`);
  let dags = modules.get(modulePath);
  if (!dags) {
    takeRegisteredDags();
    await import(pathToFileURL(modulePath).href);
    dags = new Map(takeRegisteredDags().map((d) => [d.dagId, d]));
    modules.set(modulePath, dags);
  }
  return dags;
}

function makeContext(request: TryRequest, write: (text: string) => void): TaskContext {
  const line = (level: "INFO" | "WARN" | "ERROR") => (message: string, fields?: Record<string, unknown>) =>
    write(logLine(level, `${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`));
  const logger: TaskLogger = { info: line("INFO"), warn: line("WARN"), error: line("ERROR") };
  const logicalDate = new Date(request.logicalDate);
  return {
    dagId: request.dagId,
    taskId: request.taskId,
    runId: request.runId,
    logicalDate,
    ds: logicalDate.toISOString().slice(0, 10),
    dataIntervalStart: new Date(request.dataIntervalStart),
    dataIntervalEnd: new Date(request.dataIntervalEnd),
    tryNumber: request.tryNumber,
    params: { ...request.params, ...request.conf },
    conf: request.conf,
    log: logger,
    mapIndex: request.mapIndex,
    item: currentItem,
    ...runtimeAccess(request),
  };
}

/** ctx.xcom, ctx.variables and ctx.connections of the running try (calls fail clearly outside one). */
function runtimeAccess(request: TryRequest): Pick<TaskContext, "xcom" | "variables" | "connections"> {
  // Contexts are only made while a try runs; the pool answers calls for the running try alone.
  if (!runtime || runtime.request !== request) throw new Error(`no try of ${request.dagId}.${request.taskId} is running in this runner`);
  return { xcom: runtime.xcom(), variables: runtime.variables(), connections: runtime.connections() };
}

/** Sends what the task prints to its log for the length of the try. */
function captureOutput(write: (text: string) => void): () => void {
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  const toLog = ((chunk: string | Uint8Array) => {
    write(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = toLog;
  process.stderr.write = toLog;
  return () => {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  };
}

/** Sets (undefined: unsets) variables in this process's environment; returns what puts them back. */
function applyEnv(env: Record<string, string | undefined>): () => void {
  const previous = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
