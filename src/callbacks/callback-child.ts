/**
 * A callback process: imports the DAG module, calls one DAG or task callback with its context, and
 * reports its log lines and result to the callback runner over IPC. A process per callback, so a
 * callback that hangs or crashes harms nothing else and runs even when every task runner is busy.
 */
import { pathToFileURL } from "node:url";
import { declaredOption } from "../dag/options.js";
import { takeRegisteredDags } from "../dag/registry.js";
import type { DagCallbackContext, TaskCallbackContext, TaskLogger } from "../dag/types.js";
import { dieWithParent } from "../util/orphan-watchdog.js";
import type { CallbackJob, FromCallbackProcess, ToCallbackProcess } from "./protocol.js";
import { unavailableRuntime } from "../runtime/runner-runtime.js";

dieWithParent({ wholeGroup: false });

function send(message: FromCallbackProcess): void {
  process.send?.(message);
}

const line = (level: "info" | "warn" | "error") => (message: string, fields?: Record<string, unknown>) =>
  send({ type: "log", level, message: `${message}${fields ? ` ${JSON.stringify(fields)}` : ""}` });
const log: TaskLogger = { info: line("info"), warn: line("warn"), error: line("error") };

// What the callback prints goes to the structured log too.
for (const stream of [process.stdout, process.stderr]) {
  const level = stream === process.stdout ? "info" : "warn";
  stream.write = ((chunk: string | Uint8Array) => {
    const text = (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")).replace(/\n$/, "");
    if (text) send({ type: "log", level, message: text });
    return true;
  }) as typeof stream.write;
}

process.on("message", (message: ToCallbackProcess) => {
  if (message.type !== "run") return;
  run(message.job).then(
    () => finish({ type: "done", ok: true }),
    (error: unknown) => finish({ type: "done", ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});

function finish(message: FromCallbackProcess): void {
  process.send?.(message, () => process.exit(0));
}

async function run(job: CallbackJob): Promise<void> {
  takeRegisteredDags();
  await import(pathToFileURL(job.modulePath).href);
  const dag = takeRegisteredDags().find((d) => d.dagId === job.dagId);
  if (!dag) throw new Error(`DAG '${job.dagId}' is not defined by ${job.modulePath} any more; its ${job.callback} callback cannot run`);
  const logicalDate = new Date(job.logicalDate);
  if (job.kind === "dag") {
    const callback = dag.options[job.callback as "onSuccess" | "onFailure"];
    if (typeof callback !== "function") throw new Error(`DAG '${job.dagId}' has no ${job.callback} callback any more`);
    const context: DagCallbackContext = {
      dagId: job.dagId,
      runId: job.runId,
      logicalDate,
      state: job.state ?? "failed",
      reason: job.reason ?? "",
      params: { ...job.params, ...job.conf },
      conf: job.conf,
      log,
    };
    await callback(context);
    return;
  }
  const task = dag.tasks.get(job.taskId ?? "");
  const callback = task ? declaredOption(dag, task, job.callback as "onFailure") : undefined;
  if (!task || typeof callback !== "function") throw new Error(`DAG '${job.dagId}', task '${job.taskId}' has no ${job.callback} callback any more`);
  const context: TaskCallbackContext = {
    dagId: job.dagId,
    taskId: task.taskId,
    runId: job.runId,
    logicalDate,
    ds: logicalDate.toISOString().slice(0, 10),
    dataIntervalStart: new Date(job.dataIntervalStart),
    dataIntervalEnd: new Date(job.dataIntervalEnd),
    tryNumber: job.tryNumber ?? 1,
    params: { ...job.params, ...job.conf },
    conf: job.conf,
    log,
    mapIndex: -1,
    item: undefined,
    ...unavailableRuntime(`DAG '${job.dagId}', task '${task.taskId}', callback ${job.callback}`),
    ...(job.error !== undefined ? { error: job.error } : {}),
  };
  await callback(context);
}
