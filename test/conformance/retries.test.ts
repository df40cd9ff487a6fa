/**
 * Retries as Airflow users know them, on every dialect: up_for_retry then a new try after the retry
 * delay, exponential backoff capped by maxRetryDelay, executionTimeout per try, FailTask (no retry)
 * and SkipTask.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { retryDelayMs } from "../../src/executor/retry-delay.js";
import { waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const DAGS = {
  "retries.ts": `
import { bash, dag, task, FailTask, SkipTask } from "aloft";

dag("retry_then_ok", {}, () => {
  task("flaky", (ctx) => {
    if (ctx.tryNumber === 1) throw new Error("first try fails on purpose");
    return ctx.tryNumber;
  }, { retries: 2, retryDelay: "1s" });
});

dag("backoff", {}, () => {
  task("always_fails", () => { throw new Error("fails every time"); },
    { retries: 2, retryDelay: "1s", retryExponentialBackoff: true, maxRetryDelay: "2s" });
});

dag("timeout_each_try", {}, () => {
  bash("sleeper", "sleep 20", { executionTimeout: "1s", retries: 1, retryDelay: "1s" });
});

dag("fail_no_retry", {}, () => {
  task("gives_up", () => { throw new FailTask("bad input: no point retrying"); }, { retries: 3, retryDelay: "1s" });
});

dag("skip_self", {}, () => {
  const first = task("skipper", () => { throw new SkipTask("nothing to do"); }, { retries: 3 });
  first.then(task("after_skip", () => "ran"));
});
`,
};

for (const dialect of testDialects()) {
  describe(`retries on ${dialect.dialect}`, () => {
    const h = new Harness(dialect, DAGS);
    before(() => h.start());
    after(() => h.stop());

    const tries = (dagId: string, runId: string, taskId: string) =>
      h.store.db
        .selectFrom("task_try")
        .select(["try_number", "state", "start_date", "end_date"])
        .where("dag_id", "=", dagId)
        .where("run_id", "=", runId)
        .where("task_id", "=", taskId)
        .orderBy("try_number")
        .execute();
    const ti = (dagId: string, runId: string, taskId: string) =>
      h.store.db.selectFrom("task_instance").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).where("task_id", "=", taskId).executeTakeFirst();

    test("a failed try with retries left goes up_for_retry, due at its end + retryDelay, then runs again and succeeds", async () => {
      const runId = await h.trigger("retry_then_ok");
      const waiting = await waitFor("flaky to be up_for_retry", async () => {
        const row = await ti("retry_then_ok", runId, "flaky");
        return row?.state === "up_for_retry" ? row : undefined;
      }, 30_000, 20);
      assert.equal(waiting.try_number, 1);
      assert.equal(waiting.next_try_at! - waiting.end_date!, 1_000, "next try due 1 s after the failed try ended");
      const done = await h.waitForRun("retry_then_ok", runId);
      assert.equal(done.state, "success");
      const rows = await tries("retry_then_ok", runId, "flaky");
      assert.deepEqual(rows.map((r) => [r.try_number, r.state]), [[1, "failed"], [2, "success"]]);
      assert.ok(rows[1]!.start_date >= rows[0]!.end_date! + 1_000, "the retry did not start before its delay was over");
      assert.match((await h.log("retry_then_ok", runId, "flaky", 1)) ?? "", /first try fails on purpose/);
    });

    test("exponential backoff: each wait is Airflow's backoff for that try, capped by maxRetryDelay; retries run out to failed", async () => {
      const runId = await h.trigger("backoff");
      const run = await h.run("backoff", runId);
      const seen = new Map<number, number>();
      // Record the wait the engine chose for each failed try while the run goes on.
      const done = await waitFor("backoff run to finish", async () => {
        const row = await ti("backoff", runId, "always_fails");
        if (row?.state === "up_for_retry") seen.set(row.try_number, row.next_try_at! - row.end_date!);
        return row?.state === "failed" ? row : undefined;
      }, 60_000, 20);
      assert.equal(done.try_number, 3);
      const policy = { retryDelayMs: 1_000, retryExponentialBackoff: true, maxRetryDelayMs: 2_000 };
      const expected = (n: number) => retryDelayMs(policy, { dagId: "backoff", taskId: "always_fails", logicalDate: run!.logical_date, tryNumber: n });
      assert.deepEqual([...seen.entries()].sort(), [[1, expected(1)], [2, expected(2)]]);
      assert.equal(expected(1), 1_000, "try 1: min_backoff 1 s, no room for jitter");
      assert.equal(expected(2), 2_000, "try 2: 2 s + jitter, capped at maxRetryDelay 2 s");
      const rows = await tries("backoff", runId, "always_fails");
      assert.deepEqual(rows.map((r) => r.state), ["failed", "failed", "failed"]);
      assert.ok(rows[2]!.start_date >= rows[1]!.end_date! + 2_000);
      assert.equal((await h.waitForRun("backoff", runId)).state, "failed");
    });

    test("executionTimeout applies to each try: both tries are killed and the task fails", async () => {
      const runId = await h.trigger("timeout_each_try");
      const done = await h.waitForRun("timeout_each_try", runId);
      assert.equal(done.state, "failed");
      assert.equal(done.tasks.sleeper, "failed");
      const rows = await tries("timeout_each_try", runId, "sleeper");
      assert.deepEqual(rows.map((r) => r.state), ["failed", "failed"]);
      for (const n of [1, 2]) assert.match((await h.log("timeout_each_try", runId, "sleeper", n)) ?? "", /execution timeout/);
    });

    test("FailTask fails the task at once, leaving its retries unused", async () => {
      const runId = await h.trigger("fail_no_retry");
      const done = await h.waitForRun("fail_no_retry", runId);
      assert.equal(done.tasks.gives_up, "failed");
      assert.equal((await ti("fail_no_retry", runId, "gives_up"))?.try_number, 1);
      assert.match((await h.log("fail_no_retry", runId, "gives_up")) ?? "", /bad input: no point retrying/);
    });

    test("SkipTask skips the task without retrying, and all_success tasks after it are skipped", async () => {
      const runId = await h.trigger("skip_self");
      const done = await h.waitForRun("skip_self", runId);
      assert.equal(done.state, "success");
      assert.deepEqual(done.tasks, { after_skip: "skipped", skipper: "skipped" });
      assert.equal((await ti("skip_self", runId, "skipper"))?.try_number, 1);
    });
  });
}
