/** Changes made by hand to runs and task instances: clear, mark, note. Each is written to the event log (owner "cli"). */
import readline from "node:readline/promises";
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { clearTaskInstances, type ClearOptions, type ClearResult } from "../../operations/clear.js";
import { MARK_STATES, markRun, markTaskInstances, type MarkState } from "../../operations/mark.js";
import { setRunNote, setTaskNote } from "../../operations/notes.js";
import type { Store } from "../../store/db.js";
import { CLI_ACTOR, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";


type ClearFlags = GlobalFlags & { upstream?: boolean; downstream?: boolean; onlyFailed?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean };

/** `aloft tasks clear|mark|note`. */
export function registerTaskOperations(tasks: Command): void {
  withGlobalFlags(
    tasks
      .command("clear")
      .description("clear task instances of a run so that they run again (running ones are stopped and restarted)")
      .argument("<dag_id>")
      .argument("<run_id>")
      .argument("[task_ids...]", "tasks to clear (default: every task of the run)")
      .option("--upstream", "also clear every task before them")
      .option("--downstream", "also clear every task after them")
      .option("--only-failed", "only failed and upstream_failed instances")
      .option("--yes", "do not ask for confirmation")
      .option("--dry-run", "only print what would be cleared")
      .option("--json", "print JSON"),
  ).action((dagId: string, runId: string, taskIds: string[], flags: ClearFlags) => {
    if (flags.yes && flags.dryRun) throw new UsageError("--yes and --dry-run cannot be used together");
    return withStore(flags, (store) =>
      clearWithConfirmation(store, dagId, runId, { taskIds, upstream: flags.upstream, downstream: flags.downstream, onlyFailed: flags.onlyFailed }, flags),
    );
  });

  withGlobalFlags(
    tasks
      .command("mark")
      .description("set a task instance's state by hand (a running try is stopped); failed tasks after it run again")
      .argument("<dag_id>")
      .argument("<run_id>")
      .argument("<task_id>")
      .argument("<state>", "success or failed")
      .option("--upstream", "also mark every task before it")
      .option("--downstream", "also mark every task after it")
      .option("--json", "print JSON"),
  ).action((dagId: string, runId: string, taskId: string, state: string, flags: GlobalFlags & { upstream?: boolean; downstream?: boolean; json?: boolean }) => {
    const target = parseMarkState(state);
    return withStore(flags, async (store) => {
      const result = await markTaskInstances(store, CLI_ACTOR, dagId, runId, taskId, target, { upstream: flags.upstream, downstream: flags.downstream });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      process.stdout.write(`marked ${result.marked.length} task instance(s) ${target} in run ${runId} of ${dagId}\n`);
      printRows(result.marked.map((m) => ({ task_id: m.taskId, from: m.from ?? "none", to: m.to })), false, ["task_id", "from", "to"]);
      if (result.resumed.length > 0) process.stdout.write(`cleared failed tasks after it so they run again: ${result.resumed.join(", ")}\n`);
    });
  });

  withGlobalFlags(
    tasks.command("note").description("set the note of a task instance").argument("<dag_id>").argument("<run_id>").argument("<task_id>").argument("<text>"),
  ).action((dagId: string, runId: string, taskId: string, text: string, flags: GlobalFlags) =>
    withStore(flags, async (store) => {
      await setTaskNote(store, CLI_ACTOR, dagId, runId, taskId, text);
      process.stdout.write(`set the note of ${taskId} in run ${runId} of ${dagId}\n`);
    }),
  );
}

/** `aloft dags clear-run|mark-run|note`. */
export function registerRunOperations(dags: Command): void {
  withGlobalFlags(
    dags
      .command("clear-run")
      .description("clear every task instance of a run (or only the failed ones) so that the run runs again")
      .argument("<dag_id>")
      .argument("<run_id>")
      .option("--only-failed", "only failed and upstream_failed instances")
      .option("--json", "print JSON"),
  ).action((dagId: string, runId: string, flags: GlobalFlags & { onlyFailed?: boolean; json?: boolean }) =>
    withStore(flags, async (store) => {
      printCleared(await clearTaskInstances(store, CLI_ACTOR, dagId, runId, { onlyFailed: flags.onlyFailed }), Boolean(flags.json), false);
    }),
  );

  withGlobalFlags(
    dags
      .command("mark-run")
      .description("set a run's state by hand: success marks its unfinished tasks success; failed marks running ones failed, the rest skipped")
      .argument("<dag_id>")
      .argument("<run_id>")
      .argument("<state>", "success or failed")
      .option("--json", "print JSON"),
  ).action((dagId: string, runId: string, state: string, flags: GlobalFlags & { json?: boolean }) => {
    const target = parseMarkState(state);
    return withStore(flags, async (store) => {
      const result = await markRun(store, CLI_ACTOR, dagId, runId, target);
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`marked run ${runId} of ${dagId} ${target} (was ${result.from}); ${result.tasks.length} unfinished task instance(s) changed\n`);
    });
  });

  withGlobalFlags(dags.command("note").description("set the note of a DAG run").argument("<dag_id>").argument("<run_id>").argument("<text>")).action(
    (dagId: string, runId: string, text: string, flags: GlobalFlags) =>
      withStore(flags, async (store) => {
        await setRunNote(store, CLI_ACTOR, dagId, runId, text);
        process.stdout.write(`set the note of run ${runId} of ${dagId}\n`);
      }),
  );
}

function parseMarkState(state: string): MarkState {
  if (!(MARK_STATES as readonly string[]).includes(state)) throw new UsageError(`state must be one of ${MARK_STATES.join(", ")}, got '${state}'`);
  return state as MarkState;
}

/** Clears after a dry run and a yes from the user, unless --yes or --dry-run says what to do. */
async function clearWithConfirmation(store: Store, dagId: string, runId: string, options: ClearOptions, flags: ClearFlags): Promise<void> {
  const json = Boolean(flags.json);
  if (!flags.yes) {
    const preview = await clearTaskInstances(store, CLI_ACTOR, dagId, runId, { ...options, dryRun: true });
    if (flags.dryRun || preview.cleared.length === 0) {
      printCleared(preview, json, true);
      return;
    }
    if (!process.stdin.isTTY) throw new UsageError("tasks clear asks for confirmation: pass --yes to clear, or --dry-run to only list what would be cleared");
    printCleared(preview, false, true);
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question("Clear these task instances? [y/N] ");
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stdout.write("nothing cleared\n");
      return;
    }
  }
  printCleared(await clearTaskInstances(store, CLI_ACTOR, dagId, runId, options), json, false);
}

function printCleared(result: ClearResult, json: boolean, dryRun: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...result, dryRun })}\n`);
    return;
  }
  const verb = dryRun ? "would clear" : "cleared";
  process.stdout.write(`${verb} ${result.cleared.length} task instance(s) of run ${result.runId} of ${result.dagId}\n`);
  if (result.cleared.length > 0) {
    printRows(result.cleared.map((c) => ({ task_id: c.taskId, from: c.from ?? "none", to: c.to ?? "none" })), false, ["task_id", "from", "to"]);
  }
  if (result.runState.from !== result.runState.to) process.stdout.write(`run state: ${result.runState.from} -> ${result.runState.to}\n`);
}
