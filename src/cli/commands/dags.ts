import type { Command } from "commander";
import { requireDag, triggerDagRun } from "../../scheduler/runs.js";
import { runDagsTest } from "../dags-test.js";
import { UsageError } from "../../errors.js";
import { loadDagFromFile, planNextRuns } from "../next-runs.js";
import { registerRunOperations } from "./operations.js";
import { registerDagVersionCommands } from "./deploy.js";
import { logEvent } from "../../operations/context.js";
import { CLI_ACTOR, iso, parseConf, parseIsoFlag, printRows, resolveConfig, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

type JsonFlag = GlobalFlags & { json?: boolean };

export function registerDagsCommands(program: Command): void {
  const dags = program.command("dags").description("list, trigger, pause and test DAGs");

  withGlobalFlags(dags.command("list").description("list the DAGs").option("--json", "print JSON")).action(
    (flags: JsonFlag) =>
      withStore(flags, async (store) => {
        const rows = await store.db.selectFrom("dag").selectAll().orderBy("dag_id").execute();
        printRows(
          rows.map((r) => ({
            dag_id: r.dag_id,
            fileloc: r.fileloc,
            schedule: r.schedule,
            is_paused: r.is_paused === 1,
            is_active: r.is_active === 1,
            tags: JSON.parse(r.tags) as string[],
            next_dagrun: iso(r.next_dagrun_logical_date),
          })),
          Boolean(flags.json),
          ["dag_id", "schedule", "is_paused", "is_active", "next_dagrun", "fileloc"],
        );
      }),
  );

  withGlobalFlags(
    dags
      .command("trigger")
      .description("queue a manual run of a DAG")
      .argument("<dag_id>")
      .option("--conf <json>", "JSON object passed to the run (overrides params)")
      .option("--logical-date <iso>", "logical date of the run (default: now)")
      .option("--run-id <id>", "run id (default: manual__<logical date>)")
      .option("--json", "print JSON"),
  ).action((dagId: string, flags: JsonFlag & { conf?: string; logicalDate?: string; runId?: string }) => {
    const conf = parseConf(flags.conf);
    const logicalDate = parseIsoFlag("--logical-date", flags.logicalDate);
    return withStore(flags, async (store) => {
      const run = await triggerDagRun(store, dagId, { conf, logicalDate, runId: flags.runId });
      await logEvent(store.db, CLI_ACTOR, "trigger", { dagId, runId: run.run_id }, flags.conf ?? null);
      const out = { dag_id: dagId, run_id: run.run_id, state: run.state, logical_date: iso(run.logical_date), conf };
      process.stdout.write(flags.json ? `${JSON.stringify(out)}\n` : `queued run ${run.run_id} of ${dagId}\n`);
    });
  });

  for (const [name, paused] of [
    ["pause", 1],
    ["unpause", 0],
  ] as const) {
    withGlobalFlags(
      dags
        .command(name)
        .description(paused ? "pause a DAG: no new runs start and its runs stop moving on" : "unpause a DAG")
        .argument("<dag_id>"),
    ).action((dagId: string, flags: GlobalFlags) =>
      withStore(flags, async (store) => {
        await requireDag(store.db, dagId);
        await store.db.updateTable("dag").set({ is_paused: paused }).where("dag_id", "=", dagId).execute();
        await logEvent(store.db, CLI_ACTOR, name, { dagId });
        process.stdout.write(`${paused ? "paused" : "unpaused"} ${dagId}\n`);
      }),
    );
  }

  withGlobalFlags(
    dags
      .command("list-runs")
      .description("list the runs of a DAG, newest first")
      .argument("<dag_id>")
      .option("--state <state>", "only runs in this state (queued, running, success, failed)")
      .option("--limit <n>", "at most this many runs", "50")
      .option("--json", "print JSON"),
  ).action((dagId: string, flags: JsonFlag & { state?: string; limit: string }) =>
    withStore(flags, async (store) => {
      await requireDag(store.db, dagId);
      let query = store.db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId);
      if (flags.state) query = query.where("state", "=", flags.state as "queued");
      const rows = await query.orderBy("logical_date", "desc").orderBy("id", "desc").limit(Number(flags.limit) || 50).execute();
      printRows(
        rows.map((r) => ({
          dag_id: r.dag_id,
          run_id: r.run_id,
          run_type: r.run_type,
          state: r.state,
          logical_date: iso(r.logical_date),
          start_date: iso(r.start_date),
          end_date: iso(r.end_date),
          note: r.note,
        })),
        Boolean(flags.json),
        ["run_id", "run_type", "state", "logical_date", "start_date", "end_date", "note"],
      );
    }),
  );

  withGlobalFlags(
    dags.command("list-import-errors").description("list the DAG files that failed to import").option("--json", "print JSON"),
  ).action((flags: JsonFlag) =>
    withStore(flags, async (store) => {
      const rows = await store.db.selectFrom("import_error").selectAll().orderBy("filename").execute();
      printRows(
        rows.map((r) => ({ filename: r.filename, message: r.message, timestamp: iso(r.created_at) })),
        Boolean(flags.json),
        ["filename", "timestamp", "message"],
      );
    }),
  );

  registerRunOperations(dags);
  registerDagVersionCommands(dags);

  dags
    .command("next-runs")
    .description("print the next runs a DAG file's schedule plans (no database needed)")
    .argument("<file>", "DAG file (.ts or .js)")
    .option("--dag <id>", "the DAG, when the file defines several")
    .option("--now <iso>", "the time to plan from (default: now)")
    .option("--last-run-start <iso>", "data interval start of the latest scheduled run (with --last-run-end)")
    .option("--last-run-end <iso>", "data interval end of the latest scheduled run (with --last-run-start)")
    .option("--count <n>", "how many runs", "5")
    .option("--json", 'print [{"logical_date","data_interval_start","data_interval_end","run_after"}]')
    .action(async (file: string, flags: { dag?: string; now?: string; lastRunStart?: string; lastRunEnd?: string; count: string; json?: boolean }) => {
      const now = parseIsoFlag("--now", flags.now) ?? Date.now();
      const lastStart = parseIsoFlag("--last-run-start", flags.lastRunStart);
      const lastEnd = parseIsoFlag("--last-run-end", flags.lastRunEnd);
      if ((lastStart === undefined) !== (lastEnd === undefined)) {
        throw new UsageError("--last-run-start and --last-run-end go together: give both, or neither for a DAG without runs");
      }
      if (lastStart !== undefined && lastEnd !== undefined && lastStart > lastEnd) {
        throw new UsageError("--last-run-start is after --last-run-end: swap them");
      }
      const count = Number(flags.count);
      if (!Number.isSafeInteger(count) || count < 1 || count > 10_000) {
        throw new UsageError(`--count must be an integer from 1 to 10000, got '${flags.count}'`);
      }
      const { config } = resolveConfig({});
      const dag = await loadDagFromFile(file, flags.dag, config.parseTimeoutMs);
      const last = lastStart === undefined ? null : { start: new Date(lastStart), end: new Date(lastEnd!) };
      const rows = planNextRuns(dag, new Date(now), last, count);
      if (flags.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else printRows(rows as unknown as Array<Record<string, unknown>>, false, ["logical_date", "data_interval_start", "data_interval_end", "run_after"]);
    });

  dags
    .command("test")
    .description("run one DAG run to the end in this process on a throwaway database")
    .argument("<file>", "DAG file (.ts or .js)")
    .option("--dag <id>", "the DAG to run, when the file defines several")
    .option("--logical-date <iso>", "logical date of the run (default: now)")
    .option("--conf <json>", "JSON object passed to the run")
    .option("--verbose", "print the scheduler's logs on stderr")
    .option("--json", 'print {"dag_id","run_id","state","tasks"} as JSON')
    .action(async (file: string, flags: { dag?: string; logicalDate?: string; conf?: string; verbose?: boolean; json?: boolean }) => {
      const { config } = resolveConfig({});
      const { result, failedLogs } = await runDagsTest(file, {
        dag: flags.dag,
        logicalDate: parseIsoFlag("--logical-date", flags.logicalDate),
        conf: parseConf(flags.conf),
        parseTimeoutMs: config.parseTimeoutMs,
        parallelism: config.parallelism,
        xcomMaxBytes: config.xcomMaxBytes,
        taskEnvironment: config.taskEnvironment,
        verbose: Boolean(flags.verbose),
        onTaskFinished: flags.json ? undefined : (taskId, state) => process.stderr.write(`  ${taskId}: ${state}\n`),
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        process.stdout.write(`run ${result.run_id} of ${result.dag_id}: ${result.state}\n`);
        printRows(Object.entries(result.tasks).map(([task_id, state]) => ({ task_id, state })), false, ["task_id", "state"]);
      }
      for (const [taskId, log] of Object.entries(failedLogs)) {
        process.stderr.write(`--- log of failed task ${taskId} ---\n${log}`);
      }
      process.exitCode = result.state === "success" ? 0 : 1;
    });
}
