/** `aloft backfill create|list|pause|unpause|cancel`: runs of a DAG over a past date range. */
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import {
  cancelBackfill,
  createBackfill,
  DEFAULT_BACKFILL_MAX_ACTIVE_RUNS,
  listBackfills,
  REPROCESS_CHOICES,
  requireBackfill,
  setBackfillPaused,
  type BackfillProgress,
} from "../../scheduler/backfill.js";
import { requireDag } from "../../scheduler/runs.js";
import type { BackfillReprocess } from "../../store/schema.js";
import { logEvent } from "../../operations/context.js";
import { CLI_ACTOR, iso, parseConf, parseIsoFlag, printRows, withGlobalFlags, withStore, type GlobalFlags } from "../context.js";

type JsonFlag = GlobalFlags & { json?: boolean };

interface CreateFlags extends JsonFlag {
  from?: string;
  to?: string;
  maxActiveRuns: string;
  reprocess: string;
  runBackwards?: boolean;
  dryRun?: boolean;
  conf?: string;
  detach?: boolean;
}

const COLUMNS = ["id", "dag_id", "from_date", "to_date", "state", "total", "success", "failed", "running", "queued", "reprocess", "max_active_runs"];

/** "backfill 3 of etl: 2/5 runs done (1 failed, 1 running, 1 queued)" */
function progressLine(b: BackfillProgress): string {
  const done = b.success + b.failed;
  return `backfill ${b.id} of ${b.dag_id}: ${done}/${b.total} runs done (${b.success} success, ${b.failed} failed, ${b.running} running, ${b.queued} queued)`;
}

function parseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new UsageError(`backfill id must be a positive integer, got '${text}'`);
  return id;
}

export function registerBackfillCommands(program: Command): void {
  const backfill = program.command("backfill").description("run a DAG over a past date range, and manage those backfills");

  withGlobalFlags(
    backfill
      .command("create")
      .description("create the runs of a DAG's schedule from --from to --to (both included); a running scheduler starts them")
      .argument("<dag_id>")
      .option("--from <iso>", "first logical date (required)")
      .option("--to <iso>", "last logical date (required)")
      .option("--max-active-runs <n>", "runs of this backfill running at once", String(DEFAULT_BACKFILL_MAX_ACTIVE_RUNS))
      .option("--reprocess <mode>", "dates that already have a run: none (skip them), failed (re-run failed ones), completed (re-run all finished ones)", "none")
      .option("--run-backwards", "start the newest runs first")
      .option("--conf <json>", "JSON object passed to every run")
      .option("--dry-run", "print the logical dates and what would be done; change nothing")
      .option("--detach", "return once the runs are created instead of following progress")
      .option("--json", "print JSON"),
  ).action(async (dagId: string, flags: CreateFlags) => {
    if (flags.from === undefined || flags.to === undefined) throw new UsageError("backfill create needs --from ISO and --to ISO");
    const from = parseIsoFlag("--from", flags.from)!;
    const to = parseIsoFlag("--to", flags.to)!;
    const maxActiveRuns = Number(flags.maxActiveRuns);
    if (!Number.isSafeInteger(maxActiveRuns) || maxActiveRuns < 1) {
      throw new UsageError(`--max-active-runs must be an integer >= 1, got '${flags.maxActiveRuns}'`);
    }
    if (!(REPROCESS_CHOICES as readonly string[]).includes(flags.reprocess)) {
      throw new UsageError(`--reprocess must be one of ${REPROCESS_CHOICES.join(", ")}, got '${flags.reprocess}'`);
    }
    const conf = parseConf(flags.conf);
    await withStore(flags, async (store) => {
      const { backfill: row, dates } = await createBackfill(store, {
        dagId,
        from,
        to,
        maxActiveRuns,
        reprocess: flags.reprocess as BackfillReprocess,
        runBackwards: Boolean(flags.runBackwards),
        conf,
        dryRun: Boolean(flags.dryRun),
      });
      const shown = dates.map((d) => ({
        logical_date: iso(d.logical_date),
        data_interval_start: iso(d.data_interval_start),
        data_interval_end: iso(d.data_interval_end),
        action: d.action,
        existing_state: d.existing_state,
      }));
      if (flags.dryRun || row === null) {
        if (flags.json) process.stdout.write(`${JSON.stringify({ dry_run: true, dag_id: dagId, runs: shown })}\n`);
        else printRows(shown, false, ["logical_date", "data_interval_start", "data_interval_end", "action", "existing_state"]);
        return;
      }
      await logEvent(store.db, CLI_ACTOR, "backfill_create", { dagId }, { id: row.id, from: flags.from, to: flags.to });
      const queued = dates.filter((d) => d.action !== "skip").length;
      if (flags.json && flags.detach) {
        process.stdout.write(`${JSON.stringify({ id: row.id, dag_id: dagId, runs: shown })}\n`);
        return;
      }
      if (!flags.json) process.stdout.write(`created backfill ${row.id} of ${dagId}: ${queued} runs queued, ${dates.length - queued} dates skipped\n`);
      if (flags.detach) return;
      // Follow until the scheduler has marked the backfill completed (every run finished) or it was cancelled.
      let last = "";
      for (;;) {
        const [progress] = await listBackfills(store.db, undefined, row.id);
        const line = progressLine(progress!);
        if (line !== last && !flags.json) process.stdout.write(`${line}\n`);
        last = line;
        if (progress!.total === 0 || progress!.state === "completed" || progress!.state === "cancelled") {
          if (flags.json) process.stdout.write(`${JSON.stringify(progress)}\n`);
          process.exitCode = progress!.failed > 0 ? 1 : 0;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });
  });

  withGlobalFlags(
    backfill.command("list").description("list backfills, newest first, with their runs counted by state").argument("[dag_id]").option("--json", "print JSON"),
  ).action((dagId: string | undefined, flags: JsonFlag) =>
    withStore(flags, async (store) => {
      if (dagId !== undefined) await requireDag(store.db, dagId);
      printRows((await listBackfills(store.db, dagId)) as unknown as Array<Record<string, unknown>>, Boolean(flags.json), COLUMNS);
    }),
  );

  for (const [name, description] of [
    ["pause", "stop starting new runs of a backfill (running ones finish)"],
    ["unpause", "let a paused backfill start runs again"],
    ["cancel", "stop a backfill: no new runs start and its queued runs are marked failed"],
  ] as const) {
    withGlobalFlags(backfill.command(name).description(description).argument("<id>")).action((text: string, flags: GlobalFlags) => {
      const id = parseId(text);
      return withStore(flags, async (store) => {
        const row = await requireBackfill(store.db, id);
        if (name === "cancel") {
          const failed = await cancelBackfill(store, id);
          process.stdout.write(`cancelled backfill ${id} of ${row.dag_id}: ${failed} queued runs marked failed\n`);
        } else {
          await setBackfillPaused(store, id, name === "pause");
          process.stdout.write(`${name}d backfill ${id} of ${row.dag_id}\n`);
        }
        await logEvent(store.db, CLI_ACTOR, `backfill_${name}`, { dagId: row.dag_id }, { id });
      });
    });
  }
}
