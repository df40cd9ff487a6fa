/**
 * The DB side of branch, short-circuit and sensor outcomes, and of task callbacks a runner could not
 * run. Called inside the transactions that claim and finish tries, so that what an outcome implies
 * commits with it or not at all.
 */
import type { Kysely, Transaction } from "kysely";
import type { Database, TaskState } from "../store/schema.js";
import { requestCallback } from "../callbacks/requests.js";
import { chunks } from "../util/chunks.js";
import type { FinishedTi } from "./executor.js";
import type { TryRequest } from "./protocol.js";
import { callbackFor } from "./task-callbacks.js";
import type { FinishedTry } from "./tries.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Tells claimed reschedule-mode sensors when their first check started and how many reschedules they had. */
export async function attachSensorHistory(trx: Db, requests: TryRequest[]): Promise<void> {
  const sensors = requests.filter((r) => r.sensor?.mode === "reschedule");
  for (const part of chunks(sensors)) {
    const rows = await trx
      .selectFrom("task_reschedule")
      .select((eb) => ["ti_id", eb.fn.min<number>("start_date").as("first"), eb.fn.countAll<number>().as("count")])
      .where("ti_id", "in", part.map((r) => r.tiId))
      .groupBy("ti_id")
      .execute();
    const byTi = new Map(rows.map((r) => [Number(r.ti_id), r]));
    for (const request of part) {
      const row = byTi.get(request.tiId);
      if (row) request.sensor = { ...request.sensor!, firstPokeAt: Number(row.first), reschedules: Number(row.count) };
    }
  }
}

/**
 * For recorded outcomes: marks the tasks a branch or short-circuit did not take skipped (returned, so
 * the scheduler sees them), keeps a row per sensor reschedule, and requests the callbacks of tries
 * whose runner could not run them (killed by a timeout or shutdown).
 */
export async function recordStructureOutcomes(
  trx: Db,
  live: FinishedTry[],
  recorded: Array<{ tiId: number; state: TaskState; nextTryAt?: number }>,
  now: number,
): Promise<FinishedTi[]> {
  const stateOf = new Map(recorded.map((r) => [r.tiId, r]));
  const skipped: FinishedTi[] = [];
  for (const { request, outcome } of live) {
    const record = stateOf.get(request.tiId);
    if (!record) continue;
    if (record.state === "success" && outcome.skipTaskIds && outcome.skipTaskIds.length > 0) {
      skipped.push(...(await skipTasks(trx, request.dagRunId, outcome.skipTaskIds, now)));
    }
    if (record.state === "up_for_reschedule") {
      await trx
        .insertInto("task_reschedule")
        .values({
          ti_id: request.tiId,
          dag_id: request.dagId,
          run_id: request.runId,
          task_id: request.taskId,
          map_index: request.mapIndex,
          try_number: request.tryNumber,
          start_date: outcome.pokeStartedAt ?? now,
          end_date: now,
          reschedule_date: record.nextTryAt ?? now,
        })
        .execute();
    }
    const callback = outcome.callbacksRan ? undefined : callbackFor(request, outcome);
    if (callback && request.callbacks?.includes(callback)) {
      await requestCallback(
        trx,
        {
          kind: "task",
          callback,
          dag_id: request.dagId,
          run_id: request.runId,
          task_id: request.taskId,
          context: { tiId: request.tiId, tryNumber: request.tryNumber, moduleHash: request.moduleHash, error: outcome.error },
        },
        now,
      );
    }
  }
  return skipped;
}

/** Airflow's skip_all_except: tasks of the run not yet running are set skipped. */
async function skipTasks(trx: Db, dagRunId: number, taskIds: string[], now: number): Promise<FinishedTi[]> {
  const out: FinishedTi[] = [];
  for (const part of chunks(taskIds)) {
    const rows = await trx
      .selectFrom("task_instance")
      .select("id")
      .where("dag_run_id", "=", dagRunId)
      .where("task_id", "in", part)
      .where((eb) => eb.or([eb("state", "is", null), eb("state", "=", "scheduled")]))
      .execute();
    if (rows.length === 0) continue;
    const ids = rows.map((r) => r.id);
    await trx
      .updateTable("task_instance")
      .set({ state: "skipped", start_date: now, end_date: now, duration_ms: 0, updated_at: now })
      .where("id", "in", ids)
      .where((eb) => eb.or([eb("state", "is", null), eb("state", "=", "scheduled")]))
      .execute();
    for (const id of ids) out.push({ tiId: id, state: "skipped" });
  }
  return out;
}
