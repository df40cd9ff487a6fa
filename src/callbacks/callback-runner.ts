/**
 * Runs callback requests: DAG onSuccess/onFailure (written by the scheduler in the transaction that
 * finished the run) and task callbacks a runner could not run (a try killed by its execution timeout).
 * Each runs in a process of its own that imports the DAG module, so callbacks run even when no task
 * runner is free; their output goes to the structured log. A request is claimed by a conditional
 * update, so any node could run this (remote workers later).
 */
import { watchedChildEnv } from "../util/orphan-watchdog.js";
import { fork, type ChildProcess } from "node:child_process";
import os from "node:os";
import type { ModuleCache } from "../bundle/module-cache.js";
import type { SerializedDag } from "../dag/types.js";
import type { Logger } from "../logging.js";
import { distModule } from "../paths.js";
import type { Store } from "../store/db.js";
import type { CallbackJob, FromCallbackProcess, ToCallbackProcess } from "./protocol.js";

export interface CallbackRunnerOptions {
  store: Store;
  logger: Logger;
  /** Gives the local file of the DAG module a callback needs (fetched from the DB when missing). */
  modules: ModuleCache;
  /** How often pending requests are looked for (besides `wake()`). Default 1000 ms. */
  pollMs?: number;
  /** Callback processes at once. Default 2. */
  concurrency?: number;
  /** A callback still running after this long is killed and recorded as failed. Default 60 s. */
  timeoutMs?: number;
}

export class CallbackRunner {
  private timer?: NodeJS.Timeout;
  private readonly running = new Set<Promise<void>>();
  private readonly children = new Set<ChildProcess>();
  private polling = false;
  private pollAgain = false;
  private stopped = false;
  private readonly hostname = `${os.hostname()}:${process.pid}`;

  constructor(private readonly options: CallbackRunnerOptions) {}

  /** Requests left running by a process that stopped go back to pending; then polling starts. */
  async start(): Promise<void> {
    await this.options.store.db
      .updateTable("callback_request")
      .set({ state: "pending", hostname: null, started_at: null })
      .where("state", "=", "running")
      .execute();
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? 1_000);
    this.wake();
  }

  /** Looks for pending requests now (a run just finished). */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    void this.poll()
      .catch((error: Error) => this.options.logger.warn({ err: error.message }, "could not read callback requests; trying again"))
      .finally(() => {
        this.polling = false;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.wake();
        }
      });
  }

  /** Resolves once no request is pending or running here (or after `timeoutMs`): for one-off runs such as `aloft dags test`. */
  async drain(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = await this.options.store.db.selectFrom("callback_request").select("id").where("state", "=", "pending").limit(1).execute();
      if ((pending.length === 0 && this.running.size === 0) || Date.now() > deadline) return;
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops polling, waits up to `graceMs` for running callbacks, then kills the rest (they run again at the next start). */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const all = Promise.all(this.running);
    const timeout = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([all, timeout]);
    for (const child of this.children) child.kill("SIGKILL");
    await all;
  }

  private async poll(): Promise<void> {
    const free = (this.options.concurrency ?? 2) - this.running.size;
    if (free <= 0) return;
    const { db } = this.options.store;
    const pending = await db.selectFrom("callback_request").selectAll().where("state", "=", "pending").orderBy("id").limit(free).execute();
    for (const row of pending) {
      const now = Date.now();
      const claim = await db
        .updateTable("callback_request")
        .set({ state: "running", hostname: this.hostname, started_at: now })
        .where("id", "=", row.id)
        .where("state", "=", "pending")
        .executeTakeFirst();
      if (Number(claim.numUpdatedRows) !== 1) continue;
      const work = this.runRequest(row).finally(() => {
        this.running.delete(work);
        this.wake();
      });
      this.running.add(work);
    }
  }

  private async runRequest(row: { id: number; kind: "dag" | "task"; callback: string; dag_id: string; run_id: string; task_id: string | null; context: string }): Promise<void> {
    const { store, logger } = this.options;
    const fields = { callback_request: row.id, callback: row.callback, dag_id: row.dag_id, run_id: row.run_id, task_id: row.task_id ?? undefined };
    let ok = false;
    let error: string | undefined;
    try {
      const job = await this.job(row);
      logger.info(fields, `running ${row.kind} ${row.callback} callback`);
      ({ ok, error } = await this.runChild(job, fields));
    } catch (cause) {
      error = cause instanceof Error ? cause.message : String(cause);
    }
    if (ok) logger.info(fields, `${row.kind} ${row.callback} callback succeeded`);
    else logger.error({ ...fields, err: error }, `${row.kind} ${row.callback} callback failed`);
    await store.db
      .updateTable("callback_request")
      .set({ state: ok ? "success" : "failed", error: error ?? null, ended_at: Date.now() })
      .where("id", "=", row.id)
      .execute();
  }

  /** What the callback process needs, from the request, its run and the run's DAG version. */
  private async job(row: { kind: "dag" | "task"; callback: string; dag_id: string; run_id: string; task_id: string | null; context: string }): Promise<CallbackJob> {
    const { db } = this.options.store;
    const context = JSON.parse(row.context) as Partial<CallbackJob> & { moduleHash?: string };
    const run = await db.selectFrom("dag_run").selectAll().where("dag_id", "=", row.dag_id).where("run_id", "=", row.run_id).executeTakeFirst();
    if (!run) throw new Error(`DAG '${row.dag_id}' or its run '${row.run_id}' no longer exists`);
    const version = await runVersion(db, row.dag_id, run.dag_version_id);
    if (!version) throw new Error(`DAG '${row.dag_id}' has no deployed version any more; its ${row.callback} callback cannot run`);
    return {
      kind: row.kind,
      callback: row.callback,
      dagId: row.dag_id,
      runId: row.run_id,
      taskId: row.task_id,
      modulePath: await this.options.modules.localPath(context.moduleHash ?? version.module_hash),
      logicalDate: run.logical_date,
      dataIntervalStart: run.data_interval_start,
      dataIntervalEnd: run.data_interval_end,
      params: (JSON.parse(version.serialized) as SerializedDag).params,
      conf: JSON.parse(run.conf) as Record<string, unknown>,
      ...(context.state !== undefined ? { state: context.state } : {}),
      ...(context.reason !== undefined ? { reason: context.reason } : {}),
      ...(context.tryNumber !== undefined ? { tryNumber: context.tryNumber } : {}),
      ...(context.error !== undefined ? { error: context.error } : {}),
    };
  }

  private runChild(job: CallbackJob, fields: Record<string, unknown>): Promise<{ ok: boolean; error?: string }> {
    const { logger } = this.options;
    return new Promise((resolve) => {
      const child = fork(distModule("callbacks/callback-child.js"), [], {
        execArgv: ["--enable-source-maps"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: watchedChildEnv(),
      });
      this.children.add(child);
      let result: { ok: boolean; error?: string } | undefined;
      const timeoutMs = this.options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        result ??= { ok: false, error: `the callback ran longer than ${timeoutMs} ms and was killed` };
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("message", (message: FromCallbackProcess) => {
        if (message.type === "log") logger[message.level]({ ...fields, from: "callback" }, message.message);
        else result ??= { ok: message.ok, ...(message.error !== undefined ? { error: message.error } : {}) };
      });
      child.on("error", (error) => {
        result ??= { ok: false, error: `could not start the callback process: ${error.message}` };
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve(result ?? { ok: false, error: `the callback process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}` });
      });
      const message: ToCallbackProcess = { type: "run", job };
      child.send(message);
    });
  }
}

/** The run's DAG version, or the DAG's current one when the run's was pruned (or never recorded). */
async function runVersion(db: Store["db"], dagId: string, versionId: number | null): Promise<{ module_hash: string; serialized: string } | undefined> {
  if (versionId !== null) {
    const own = await db.selectFrom("dag_version").select(["module_hash", "serialized"]).where("id", "=", versionId).executeTakeFirst();
    if (own) return own;
  }
  return db
    .selectFrom("dag as d")
    .innerJoin("dag_version as v", "v.id", "d.dag_version_id")
    .select(["v.module_hash", "v.serialized"])
    .where("d.dag_id", "=", dagId)
    .executeTakeFirst();
}
