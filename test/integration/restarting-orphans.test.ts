/** A cleared (restarting) try left behind by an executor that went away is run again, on every dialect. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DagCache } from "../../src/scheduler/dag-cache.js";
import { takeLease } from "../../src/scheduler/lease.js";
import { resetOrphanedTries } from "../../src/scheduler/orphans.js";
import { silentLogger } from "../../src/logging.js";
import { testDialects, useMigratedDatabase } from "../helpers/dialects.js";

for (const factory of testDialects()) {
  describe(`restarting orphans on ${factory.dialect}`, () => {
    const database = useMigratedDatabase(factory);

    test("at start, a restarting task instance goes back to none and its open try row is closed", async () => {
      const now = Date.now();
      await database.store.db
        .insertInto("task_instance")
        .values({
          dag_run_id: 1, dag_id: "d", run_id: "r", task_id: "t", state: "restarting", try_number: 1, max_tries: 1,
          operator: "bash", queue: "default", pool: "default_pool", pool_slots: 1, priority_weight: 1, updated_at: now,
        })
        .execute();
      const ti = await database.store.db.selectFrom("task_instance").select("id").executeTakeFirstOrThrow();
      await database.store.db
        .insertInto("task_try")
        .values({ ti_id: ti.id, dag_id: "d", run_id: "r", task_id: "t", map_index: -1, try_number: 1, state: "running", hostname: "gone", pid: null, start_date: now, end_date: null, duration_ms: null })
        .execute();
      const lease = await takeLease(database.store, "test", 30_000);
      await resetOrphanedTries(database.store, lease, new DagCache(database.store), silentLogger);
      const after = await database.store.db.selectFrom("task_instance").select(["state", "try_number", "max_tries"]).executeTakeFirstOrThrow();
      assert.deepEqual(after, { state: null, try_number: 1, max_tries: 1 });
      const tryRow = await database.store.db.selectFrom("task_try").select(["state", "end_date"]).executeTakeFirstOrThrow();
      assert.equal(tryRow.state, "restarting");
      assert.notEqual(tryRow.end_date, null);
    });
  });
}
