import type { Command } from "commander";
import { NotFoundError, UsageError } from "../../errors.js";
import { findRun } from "../../scheduler/runs.js";
import { LOG_START, readTryLog, readTryLogAfter } from "../../executor/try-logs.js";
import type { Store } from "../../store/db.js";
import { registerTaskOperations } from "./operations.js";
import type { SerializedDag } from "../../dag/types.js";
import { iso, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

export function registerTasksCommands(program: Command): void {
  const tasks = program.command("tasks").description("inspect, clear, mark and annotate task instances; read their logs");

  withGlobalFlags(
    tasks
      .command("states")
      .description("the state of every task of a DAG run")
      .argument("<dag_id>")
      .argument("<run_id>")
      .option("--json", "print JSON"),
  ).action((dagId: string, runId: string, flags: GlobalFlags & { json?: boolean }) =>
    withStore(flags, async (store) => {
      const run = await findRun(store.db, dagId, runId);
      if (!run) throw new NotFoundError(`DAG '${dagId}' has no run '${runId}': see 'aloft dags list-runs ${dagId}'`);
      const rows = await store.db.selectFrom("task_instance").selectAll().where("dag_run_id", "=", run.id).orderBy("id").execute();
      printRows(
        rows.map((r) => ({
          task_id: r.task_id,
          map_index: r.map_index,
          state: r.state,
          try_number: r.try_number,
          start_date: iso(r.start_date),
          end_date: iso(r.end_date),
          duration_ms: r.duration_ms,
          queue: r.queue,
          note: r.note,
        })),
        Boolean(flags.json),
        ["task_id", "map_index", "state", "try_number", "start_date", "end_date", "duration_ms", "note"],
      );
    }),
  );

  registerTaskOperations(tasks);

  withGlobalFlags(
    tasks
      .command("logs")
      .description("print the log of a task try (the latest try unless --try is given)")
      .argument("<dag_id>")
      .argument("<run_id>")
      .argument("<task_id>")
      .option("--try <n>", "try number, from 1")
      .option("--map-index <n>", "the instance of a mapped task", "-1")
      .option("-f, --follow", "keep printing the log as it grows, until the try ends"),
  ).action((dagId: string, runId: string, taskId: string, flags: GlobalFlags & { try?: string; follow?: boolean; mapIndex: string }) =>
    withStore(flags, async (store) => {
      const tries = await store.db
        .selectFrom("task_try")
        .select(["ti_id", "try_number", "state"])
        .where("dag_id", "=", dagId)
        .where("run_id", "=", runId)
        .where("task_id", "=", taskId)
        .where("map_index", "=", parseMapIndex(flags.mapIndex))
        .orderBy("try_number")
        .execute();
      if (tries.length === 0) {
        throw new NotFoundError(
          `no try of task '${taskId}' in run '${runId}' of DAG '${dagId}' has started: check the ids with 'aloft tasks states ${dagId} ${runId}'`,
        );
      }
      const wanted = flags.try === undefined ? tries[tries.length - 1]!.try_number : Number(flags.try);
      const found = tries.find((t) => t.try_number === wanted);
      if (!found) {
        throw new NotFoundError(`task '${taskId}' has no try ${flags.try}; its tries are ${tries.map((t) => t.try_number).join(", ")}`);
      }
      if (!flags.follow) {
        process.stdout.write((await readTryLog(store, found.ti_id, found.try_number)) ?? "");
        return;
      }
      await followTryLog(store, found.ti_id, found.try_number);
    }),
  );

  registerRenderCommand(tasks);
}

/** `--map-index`: -1 (not mapped) or an instance's index. */
function parseMapIndex(text: string): number {
  const mapIndex = Number(text);
  if (!Number.isInteger(mapIndex) || mapIndex < -1) throw new UsageError(`--map-index must be -1 or a map index from 0, got '${text}'`);
  return mapIndex;
}

interface RenderedFields {
  command: string;
  env: Record<string, string>;
}

/** A bash task without template syntax renders to itself, so nothing was stored for it: show it as defined. */
async function untemplatedFields(store: Store, dagId: string, taskId: string): Promise<RenderedFields | undefined> {
  const row = await store.db.selectFrom("dag").select("serialized").where("dag_id", "=", dagId).executeTakeFirst();
  const task = row ? (JSON.parse(row.serialized) as SerializedDag).tasks.find((t) => t.taskId === taskId) : undefined;
  if (task?.kind !== "bash" || task.command === undefined) return undefined;
  const texts = [task.command, ...Object.values(task.env)];
  if (texts.some((t) => /\{\{|\{%|\{#/.test(t))) return undefined;
  return { command: task.command, env: task.env };
}

function registerRenderCommand(tasks: Command): void {
  withGlobalFlags(
    tasks
      .command("render")
      .description("print the rendered templates (bash command and env) of a task instance, secrets masked")
      .argument("<dag_id>")
      .argument("<run_id>")
      .argument("<task_id>")
      .option("--map-index <n>", "the instance of a mapped task", "-1")
      .option("--json", "print JSON"),
  ).action((dagId: string, runId: string, taskId: string, flags: GlobalFlags & { mapIndex: string; json?: boolean }) => {
    const mapIndex = parseMapIndex(flags.mapIndex);
    return withStore(flags, async (store) => {
      const ti = await store.db
        .selectFrom("task_instance")
        .select(["rendered_fields"])
        .where("dag_id", "=", dagId)
        .where("run_id", "=", runId)
        .where("task_id", "=", taskId)
        .where("map_index", "=", mapIndex)
        .executeTakeFirst();
      if (!ti) {
        throw new NotFoundError(`DAG '${dagId}' has no task instance '${taskId}'${mapIndex >= 0 ? ` [${mapIndex}]` : ""} in run '${runId}': check with 'aloft tasks states ${dagId} ${runId}'`);
      }
      const fields = ti.rendered_fields === null ? await untemplatedFields(store, dagId, taskId) : (JSON.parse(ti.rendered_fields) as RenderedFields);
      if (!fields) {
        throw new NotFoundError(
          `task '${taskId}' of run '${runId}' has no rendered templates: only bash tasks have them, once a try has started`,
        );
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(fields)}\n`);
        return;
      }
      process.stdout.write(`command: ${fields.command}\n`);
      for (const [name, value] of Object.entries(fields.env)) process.stdout.write(`env ${name}: ${value}\n`);
    });
  });
}

/** Prints a try's log as it grows (the executor writes it every 250 ms) until the try has ended. */
async function followTryLog(store: Store, tiId: number, tryNumber: number): Promise<void> {
  let cursor = LOG_START;
  for (;;) {
    const ended = await store.db
      .selectFrom("task_try")
      .select("state")
      .where("ti_id", "=", tiId)
      .where("try_number", "=", tryNumber)
      .executeTakeFirst();
    // Read after checking the state, so that the last chunks, written with the outcome, are not missed.
    const read = await readTryLogAfter(store, tiId, tryNumber, cursor);
    process.stdout.write(read.text);
    cursor = read.cursor;
    if (ended?.state !== "running") return;
    await new Promise((r) => setTimeout(r, 250));
  }
}
