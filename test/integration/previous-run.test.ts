/** Which run is "the previous run" for dependsOnPast, read from the DB on every dialect. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { previousRunStates } from "../../src/scheduler/depends-on-past.js";
import type { RunType, TaskState } from "../../src/store/schema.js";
import { testDialects, useMigratedDatabase } from "../helpers/dialects.js";

for (const factory of testDialects()) {
  describe(`previous run on ${factory.dialect}`, () => {
    const database = useMigratedDatabase(factory);

    async function run(runId: string, runType: RunType, day: number, tis: Array<[string, number, TaskState | null]>): Promise<number> {
      const at = Date.parse(`2025-01-${String(day).padStart(2, "0")}T00:00:00Z`);
      await database.store.db
        .insertInto("dag_run")
        .values({
          dag_id: "d", run_id: runId, run_type: runType, state: "running", logical_date: at, data_interval_start: at, data_interval_end: at,
          run_after: at, conf: "{}", queued_at: at, start_date: at, end_date: null, created_at: at,
        })
        .execute();
      const { id } = await database.store.db.selectFrom("dag_run").select("id").where("run_id", "=", runId).executeTakeFirstOrThrow();
      for (const [taskId, mapIndex, state] of tis) {
        await database.store.db
          .insertInto("task_instance")
          .values({
            dag_run_id: id, dag_id: "d", run_id: runId, task_id: taskId, map_index: mapIndex, state, try_number: 1, max_tries: 0,
            operator: "function", queue: "default", pool: "default_pool", pool_slots: 1, priority_weight: 1, updated_at: at,
          })
          .execute();
      }
      return id;
    }

    test("the first run has none; otherwise the run with the latest earlier logical date, of any run type", async () => {
      const first = await run("scheduled__1", "scheduled", 1, [["a", -1, "failed"]]);
      await run("manual__3", "manual", 3, [["a", -1, "success"], ["m", 0, "success"], ["m", 1, "failed"], ["m", 2, "success"]]);
      const later = await run("scheduled__4", "scheduled", 4, []);
      // Created after the others but earlier by logical date: its previous run is the first one.
      const backfilled = await run("backfill__2", "backfill", 2, []);
      assert.equal(await previousRunStates(database.store.db, first), null);
      assert.deepEqual(Object.fromEntries((await previousRunStates(database.store.db, backfilled))!), { a: "failed" });
      assert.deepEqual((await previousRunStates(database.store.db, later))!.get("a"), "success");
      assert.equal((await previousRunStates(database.store.db, later))!.get("m"), "failed", "a mapped task is done only when every instance is");
    });
  });
}
