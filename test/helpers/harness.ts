/**
 * An Aloft engine (DAG processor, scheduler, local executor) in the test process, on a fresh database
 * of one dialect, with DAG files written to a temporary folder. Conformance suites use it to run the
 * same cases on every dialect without paying for a standalone process per case.
 *
 *     for (const dialect of testDialects()) describe(dialect.dialect, () => {
 *       const h = new Harness(dialect, { "a.ts": `import { dag, task } from "aloft"; ...` });
 *       before(() => h.start());
 *       after(() => h.stop());
 *       test("...", async () => {
 *         const runId = await h.trigger("a");
 *         assert.equal((await h.waitForRun("a", runId)).state, "success");
 *       });
 *     });
 */
import fs from "node:fs";
import path from "node:path";
import { loadConfig, type AloftConfig } from "../../src/config.js";
import { startEngine, type Engine } from "../../src/engine.js";
import { readTryLog } from "../../src/executor/try-logs.js";
import { createLogger, silentLogger } from "../../src/logging.js";
import { deployBundle } from "../../src/bundle/deploy.js";
import { triggerDagRun, type TriggerOptions } from "../../src/scheduler/runs.js";
import { openStore, type Store } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrate.js";
import type { DagRunRow, TaskState } from "../../src/store/schema.js";
import { tempDir, waitFor } from "./aloft.js";
import type { DialectFactory, TestDatabase } from "./dialects.js";

export class Harness {
  readonly home = tempDir("harness-home");
  readonly dagsFolder = tempDir("harness-dags");
  private database?: TestDatabase;
  private engine?: Engine;
  private storeHandle?: Store;
  config!: AloftConfig;

  constructor(
    readonly dialect: DialectFactory,
    dags: Record<string, string> = {},
    private readonly overrides: Partial<AloftConfig> = {},
  ) {
    this.writeDags(dags);
  }

  get store(): Store {
    if (!this.storeHandle) throw new Error("the harness is not started: call start() first");
    return this.storeHandle;
  }

  /** The running engine's scheduler (undefined before start()). */
  get scheduler() {
    return this.engine?.scheduler;
  }

  /** Writes (or replaces) DAG files; call `reparse()` for a started engine to see them. */
  writeDags(files: Record<string, string>): void {
    for (const [name, code] of Object.entries(files)) fs.writeFileSync(path.join(this.dagsFolder, name), code);
  }

  /** Creates the database, migrates it, parses the DAG folder and starts the engine. */
  async start(): Promise<void> {
    this.database = await this.dialect.create();
    this.config = {
      ...loadConfig({ env: {}, flags: { home: this.home, databaseUrl: this.database.url, dagsFolder: this.dagsFolder } }).config,
      parseIntervalMs: 3_600_000,
      ...this.overrides,
    };
    this.storeHandle = await openStore(this.database.url, { poolSize: 4 });
    await migrate(this.storeHandle);
    const logger = process.env.ALOFT_TEST_VERBOSE ? createLogger("debug", "harness") : silentLogger;
    // The folder is deployed by reparse(), when a test says so, not by a watcher.
    this.engine = await startEngine({ store: this.storeHandle, config: this.config, logger, dags: "once" });
  }

  /** Deploys the DAG folder now (a new bundle version when it changed) and wakes the scheduler; returns the deploy's report. */
  async reparse(message?: string) {
    const report = await deployBundle(this.store, this.dagsFolder, {
      home: this.home,
      parseTimeoutMs: this.config.parseTimeoutMs,
      pausedAtCreation: this.config.pausedAtCreation,
      ...(message !== undefined ? { message } : {}),
    });
    this.engine?.scheduler.wake();
    return report;
  }

  /** The deploy of the DAG folder the engine made at start. */
  get firstParse() {
    if (!this.engine) throw new Error("the harness is not started: call start() first");
    return this.engine.firstDeploy!;
  }

  async trigger(dagId: string, options: TriggerOptions = {}): Promise<string> {
    const run = await triggerDagRun(this.store, dagId, options);
    this.engine?.scheduler.wake();
    return run.run_id;
  }

  async run(dagId: string, runId: string): Promise<DagRunRow | undefined> {
    return this.store.db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).executeTakeFirst();
  }

  /** Waits until the run is success or failed; returns the run and its task states by task id (mapped: `id[index]`). */
  async waitForRun(dagId: string, runId: string, timeoutMs = 60_000): Promise<{ run: DagRunRow; state: string; tasks: Record<string, TaskState | null> }> {
    const run = await waitFor(
      `run ${runId} of ${dagId} to finish`,
      async () => {
        const row = await this.run(dagId, runId);
        return row && (row.state === "success" || row.state === "failed") ? row : undefined;
      },
      timeoutMs,
      100,
    );
    return { run, state: run.state, tasks: await this.taskStates(dagId, runId) };
  }

  async taskStates(dagId: string, runId: string): Promise<Record<string, TaskState | null>> {
    const rows = await this.store.db
      .selectFrom("task_instance")
      .select(["task_id", "map_index", "state"])
      .where("dag_id", "=", dagId)
      .where("run_id", "=", runId)
      .orderBy("task_id")
      .orderBy("map_index")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.map_index < 0 ? r.task_id : `${r.task_id}[${r.map_index}]`, r.state]));
  }

  /** The XCom value (parsed JSON) a task instance pushed under `key`, or undefined when it pushed none. */
  async xcom(dagId: string, runId: string, taskId: string, key = "return_value", mapIndex = -1): Promise<unknown> {
    const row = await this.store.db
      .selectFrom("xcom")
      .select("value")
      .where("dag_id", "=", dagId)
      .where("run_id", "=", runId)
      .where("task_id", "=", taskId)
      .where("key", "=", key)
      .where("map_index", "=", mapIndex)
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as unknown) : undefined;
  }

  /** The log text of one try. */
  async log(dagId: string, runId: string, taskId: string, tryNumber = 1, mapIndex = -1): Promise<string | null> {
    const ti = await this.store.db
      .selectFrom("task_instance")
      .select("id")
      .where("dag_id", "=", dagId)
      .where("run_id", "=", runId)
      .where("task_id", "=", taskId)
      .where("map_index", "=", mapIndex)
      .executeTakeFirstOrThrow();
    return readTryLog(this.store, ti.id, tryNumber);
  }

  /** Stops the engine (running tries are stopped), closes and drops the database. */
  async stop(): Promise<void> {
    await this.engine?.stop(0);
    await this.storeHandle?.close();
    await this.database?.drop();
    fs.rmSync(this.home, { recursive: true, force: true });
    fs.rmSync(this.dagsFolder, { recursive: true, force: true });
  }
}
