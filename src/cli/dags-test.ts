/**
 * `aloft dags test FILE`: one DAG run to the end, in this process, on a throwaway SQLite database,
 * with the real parser, scheduler and runners. Prints
 * `{"dag_id","run_id","state","tasks":{task_id: state}}` with --json; exits 0 on success, 1 on failure.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CallbackRunner } from "../callbacks/callback-runner.js";
import { UsageError } from "../errors.js";
import { LocalExecutor } from "../executor/local.js";
import type { NodeTaskEnvironment } from "../executor/task-environment.js";
import { readTryLog } from "../executor/try-logs.js";
import { silentLogger, createLogger } from "../logging.js";
import { deployBundle } from "../bundle/deploy.js";
import { ModuleCache } from "../bundle/module-cache.js";
import { takeLease } from "../scheduler/lease.js";
import { triggerDagRun } from "../scheduler/runs.js";
import { Scheduler } from "../scheduler/scheduler.js";
import { openStore } from "../store/db.js";
import { migrate } from "../store/migrate.js";
import { SecretBox } from "../runtime/secrets.js";
import { StoreRuntimeService } from "../runtime/service.js";
import { chooseDagId, requireDagFile } from "./dag-file.js";

export interface DagsTestOptions {
  dag?: string;
  logicalDate?: number;
  conf: Record<string, unknown>;
  parseTimeoutMs: number;
  parallelism: number;
  verbose: boolean;
  /** Largest XCom value in JSON bytes. Default 1 MiB. */
  xcomMaxBytes?: number;
  /** The node's task environment (config [task_environment]), as standalone would use it. Default: none. */
  taskEnvironment?: NodeTaskEnvironment;
  /** Called as tasks finish, with their id and state (for progress lines). */
  onTaskFinished?: (taskId: string, state: string) => void;
}

export interface DagsTestResult {
  dag_id: string;
  run_id: string;
  state: "success" | "failed";
  tasks: Record<string, string | null>;
}

export interface DagsTestOutcome {
  result: DagsTestResult;
  /** The logs of the last tries of the tasks that failed, by task id. */
  failedLogs: Record<string, string>;
}

export async function runDagsTest(file: string, options: DagsTestOptions): Promise<DagsTestOutcome> {
  const resolved = requireDagFile(file);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-dags-test-"));
  const logger = options.verbose ? createLogger("info", "dags-test") : silentLogger;
  const store = await openStore(`sqlite://${path.join(home, "aloft.db")}`);
  try {
    await migrate(store);
    // The file is deployed on its own, as a bundle rooted at its folder.
    const report = await deployBundle(store, path.dirname(resolved), { home, files: [resolved], parseTimeoutMs: options.parseTimeoutMs, pausedAtCreation: false });
    if (report.importErrors.length > 0) {
      throw new UsageError(`${file} failed to import: ${report.importErrors[0]!.message}`);
    }
    const dagId = chooseDagId(file, report.added, options.dag);
    // Only the manual run below: no scheduled runs, no other DAG of the file.
    await store.db.updateTable("dag").set({ next_dagrun_create_after: null, next_dagrun_logical_date: null }).execute();
    await store.db.updateTable("dag").set({ is_paused: 1 }).where("dag_id", "!=", dagId).execute();

    const run = await triggerDagRun(store, dagId, { conf: options.conf, logicalDate: options.logicalDate });
    const lease = await takeLease(store, `dags-test:${process.pid}`, 3_600_000);
    // A throwaway database has no variables or connections, but XCom and mapping work as in standalone.
    const runtime = new StoreRuntimeService(store, { box: SecretBox.open("", home), xcomMaxBytes: options.xcomMaxBytes ?? 1_048_576 });
    const modules = new ModuleCache(store, home);
    const executor = new LocalExecutor(store, {
      parallelism: options.parallelism,
      warmRunners: 1,
      logger,
      workerName: `dags-test:${process.pid}`,
      runtime,
      xcomMaxBytes: options.xcomMaxBytes,
      taskEnvironment: options.taskEnvironment,
      modules,
    });
    // Progress lines, in the order tries finished; awaited before the result is returned.
    let progressLines = Promise.resolve();
    const progress = options.onTaskFinished;
    if (progress) {
      executor.onTriesFinished((finished) => {
        progressLines = progressLines.then(async () => {
          const rows = await store.db
            .selectFrom("task_instance")
            .select(["id", "task_id"])
            .where("id", "in", finished.map((f) => f.tiId))
            .execute();
          const ids = new Map(rows.map((r) => [r.id, r.task_id]));
          for (const f of finished) progress(ids.get(f.tiId) ?? String(f.tiId), f.state);
        });
      });
    }
    const scheduler = new Scheduler({ store, lease, executor, logger });
    const state = await new Promise<"success" | "failed">((resolve, reject) => {
      scheduler.on("runFinished", (id, s) => id === run.id && resolve(s));
      scheduler.on("deposed", reject);
      scheduler.start();
    });
    await scheduler.stop();
    await executor.close();
    await progressLines;
    // The run's DAG callbacks (and those of killed tries) run before the command returns.
    const callbacks = new CallbackRunner({ store, logger, modules });
    await callbacks.start();
    await callbacks.drain();
    await callbacks.stop();

    const tis = await store.db
      .selectFrom("task_instance")
      .select(["id", "task_id", "map_index", "state", "try_number"])
      .where("dag_run_id", "=", run.id)
      .orderBy("id")
      .execute();
    const failedLogs: Record<string, string> = {};
    for (const ti of tis.filter((t) => t.state === "failed")) {
      failedLogs[ti.task_id] = (await readTryLog(store, ti.id, ti.try_number)) ?? "";
    }
    return {
      result: {
        dag_id: dagId,
        run_id: run.run_id,
        state,
        tasks: Object.fromEntries(tis.map((t) => [t.map_index < 0 ? t.task_id : `${t.task_id}[${t.map_index}]`, t.state])),
      },
      failedLogs,
    };
  } finally {
    await store.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}
