/** Claiming and finishing tries in the DB, on every dialect: each try runs at most once. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TryRequest } from "../../src/executor/protocol.js";
import { claimTries, finishTries } from "../../src/executor/tries.js";
import type { Store } from "../../src/store/db.js";
import { dbNow } from "../../src/scheduler/lease.js";
import { testDialects, useMigratedDatabase } from "../helpers/dialects.js";

async function queuedTi(store: Store, taskId: string): Promise<TryRequest> {
  const now = Date.now();
  await store.db
    .insertInto("task_instance")
    .values({
      dag_run_id: 1, dag_id: "d", run_id: "r", task_id: taskId, state: "queued", try_number: 1, max_tries: 0,
      operator: "function", queue: "default", pool: "default_pool", pool_slots: 1, priority_weight: 1, updated_at: now,
    })
    .execute();
  const row = await store.db.selectFrom("task_instance").select("id").where("task_id", "=", taskId).executeTakeFirstOrThrow();
  return {
    tiId: row.id, dagRunId: 1, dagId: "d", taskId, runId: "r", mapIndex: -1, tryNumber: 1, maxTries: 0, retryDelayMs: 0,
    kind: "function", dagVersionId: 1, moduleHash: "0".repeat(64), env: {}, executionTimeoutMs: null, logicalDate: now, dataIntervalStart: now,
    dataIntervalEnd: now, params: {}, conf: {},
  };
}

for (const factory of testDialects()) {
  describe(`task tries on ${factory.dialect}`, () => {
    const database = useMigratedDatabase(factory);

    test("a try is claimed once: a second claim of the same try wins nothing", async () => {
      const a = await queuedTi(database.store, "a");
      const b = await queuedTi(database.store, "b");
      assert.deepEqual((await claimTries(database.store, { hostname: "host-1", worker: "w1" }, [a])).map((r) => r.taskId), ["a"]);
      // A repeated delivery of a, together with b: only b is won.
      assert.deepEqual((await claimTries(database.store, { hostname: "host-2", worker: "w2" }, [a, b])).map((r) => r.taskId), ["b"]);
      const tries = await database.store.db.selectFrom("task_try").select(["task_id", "hostname"]).orderBy("task_id").execute();
      assert.deepEqual(tries, [{ task_id: "a", hostname: "host-1" }, { task_id: "b", hostname: "host-2" }]);
    });

    test("an outcome for a try that is no longer running changes nothing", async () => {
      const c = await queuedTi(database.store, "c");
      await claimTries(database.store, { hostname: "host-1", worker: "w1" }, [c]);
      await database.store.db.updateTable("task_instance").set({ state: "success" }).where("id", "=", c.tiId).execute();
      const recorded = await finishTries(database.store, [{ request: c, outcome: { state: "failed", error: "late" } }]);
      assert.deepEqual(recorded, []);
      const ti = await database.store.db.selectFrom("task_instance").select("state").where("id", "=", c.tiId).executeTakeFirstOrThrow();
      assert.equal(ti.state, "success");
    });

    test("a recorded success keeps the result and the log; a failure with retries left is up_for_retry", async () => {
      const d = await queuedTi(database.store, "d");
      const e = { ...(await queuedTi(database.store, "e")), maxTries: 1, retryDelayMs: 60_000 };
      await claimTries(database.store, { hostname: "host-1", worker: "w1" }, [d, e]);
      const before = await dbNow(database.store);
      const recorded = await finishTries(
        database.store,
        [
          { request: d, outcome: { state: "success", resultJson: '{"rows":3}' } },
          { request: e, outcome: { state: "failed", error: "boom" } },
        ],
        [{ request: d, text: "hello\n", at: before }],
      );
      assert.equal(recorded.length, 2);
      const rows = await database.store.db.selectFrom("task_instance").select(["task_id", "state", "next_try_at"]).where("id", "in", [d.tiId, e.tiId]).orderBy("task_id").execute();
      assert.deepEqual(rows.map((r) => [r.task_id, r.state]), [["d", "success"], ["e", "up_for_retry"]]);
      // By the DB's clock as this process estimates it (an offset measured within a round trip).
      const due = Number(rows[1]!.next_try_at) - before;
      assert.ok(due > 59_000 && due <= 61_000, `the retry is due ${due} ms after the failure (retry delay 60 s)`);
      const xcom = await database.store.db.selectFrom("xcom").select(["key", "value"]).where("ti_id", "=", d.tiId).execute();
      assert.deepEqual(xcom, [{ key: "return_value", value: '{"rows":3}' }]);
      const log = await database.store.db.selectFrom("task_log").select("chunk").where("ti_id", "=", d.tiId).execute();
      assert.deepEqual(log, [{ chunk: "hello\n" }]);
    });
  });

  describe(`try times on ${factory.dialect}`, () => {
    // A database of its own: the DB clock of a store measures its offset on first use, here with the skew.
    const database = useMigratedDatabase(factory);

    test("a worker whose clock is 10 minutes fast writes retry times and try dates by the DB's clock", async () => {
      const realNow = Date.now;
      Date.now = () => realNow() + 600_000;
      try {
        const f = { ...(await queuedTi(database.store, "f")), maxTries: 1, retryDelayMs: 5_000 };
        await claimTries(database.store, { hostname: "host-1", worker: "w1" }, [f]);
        await finishTries(database.store, [{ request: f, outcome: { state: "failed", error: "boom" } }]);
        const now = await dbNow(database.store);
        const row = await database.store.db.selectFrom("task_instance").select(["state", "next_try_at", "start_date", "end_date"]).where("id", "=", f.tiId).executeTakeFirstOrThrow();
        assert.equal(row.state, "up_for_retry");
        const due = Number(row.next_try_at) - now;
        assert.ok(due > 2_000 && due <= 5_000, `the retry is due in ${due} ms by the DB's clock (retry delay 5 s)`);
        assert.ok(Math.abs(Number(row.end_date) - now) < 2_000, `end_date is ${Number(row.end_date) - now} ms from the DB's time`);
      } finally {
        Date.now = realNow;
      }
    });
  });
}
