/**
 * Concurrency as Airflow users know it, on every dialect: maxActiveTasks per DAG, pools whose tasks
 * take several slots (and the pools CLI), priority weights and weight rules, the earlier logical date
 * first among equals, queues recorded on the task instance and the try, dependsOnPast and
 * waitForDownstream.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runCli, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const DAGS = {
  "concurrency.ts": `
import { bash, dag, task } from "aloft";

dag("limited", { maxActiveTasks: 2 }, () => {
  for (const id of ["t1", "t2", "t3", "t4"]) bash(id, "sleep 0.4");
});

dag("slots", {}, () => {
  bash("big", "sleep 0.4", { pool: "pair", poolSlots: 2 });
  bash("small1", "sleep 0.4", { pool: "pair" });
  bash("small2", "sleep 0.4", { pool: "pair" });
});

dag("prio", {}, () => {
  task("low", () => 1, { pool: "solo", priorityWeight: 1, weightRule: "absolute" });
  task("high", () => 1, { pool: "solo", priorityWeight: 5, weightRule: "absolute" });
  task("mid", () => 1, { pool: "solo", priorityWeight: 3, weightRule: "absolute" });
});

dag("fifo", {}, () => {
  task("only", () => 1, { pool: "fifo_pool" });
});

dag("weights_upstream", { defaults: { weightRule: "upstream" } }, () => {
  task("a", () => 1).then(task("b", () => 1)).then(task("c", () => 1));
});

dag("weights_downstream", {}, () => {
  task("a", () => 1).then(task("b", () => 1)).then(task("c", () => 1));
});

dag("queues", {}, () => {
  task("etl_task", () => 1, { queue: "etl" });
  task("default_task", () => 1);
});

dag("holder", {}, () => {
  bash("hold", "sleep 30", { pool: "hold", poolSlots: 2 });
});

dag("dop", {}, () => {
  task("a", (ctx) => { if (ctx.conf.fail) throw new Error("asked to fail"); return 1; }, { dependsOnPast: true });
});

dag("wfd", {}, () => {
  task("a", () => 1, { waitForDownstream: true })
    .then(task("b", (ctx) => { if (ctx.conf.fail) throw new Error("asked to fail"); return 1; }));
});
`,
};

/** The most pool slots (or tries, with weight 1) in use at once, from try start and end times. */
function mostAtOnce(tries: Array<{ start_date: number; end_date: number | null; weight?: number }>): number {
  const events = tries
    .flatMap((t): Array<[number, number]> => [[t.start_date, t.weight ?? 1], [t.end_date!, -(t.weight ?? 1)]])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, delta] of events) most = Math.max(most, (now += delta));
  return most;
}

for (const dialect of testDialects()) {
  describe(`concurrency on ${dialect.dialect}`, () => {
    const h = new Harness(dialect, DAGS);
    const cli = (...args: string[]) => runCli(args, { ALOFT_DATABASE_URL: h.config.databaseUrl, ALOFT_HOME: h.home });
    before(async () => {
      await h.start();
      for (const [pool, slots] of [["pair", "2"], ["solo", "0"], ["fifo_pool", "0"], ["hold", "3"]]) {
        const set = await cli("pools", "set", pool!, slots!, "--description", `test pool ${pool}`);
        assert.equal(set.code, 0, set.stderr);
      }
    });
    after(() => h.stop());

    const tries = (dagId: string) =>
      h.store.db.selectFrom("task_try").innerJoin("task_instance as ti", "ti.id", "task_try.ti_id")
        .select(["task_try.task_id", "task_try.run_id", "task_try.start_date", "task_try.end_date", "ti.pool_slots", "task_try.queue"])
        .where("task_try.dag_id", "=", dagId).orderBy("task_try.start_date").orderBy("task_try.ti_id").execute();
    const allScheduled = (dagId: string, count: number) =>
      waitFor(`${count} scheduled tasks of ${dagId}`, async () => {
        const rows = await h.store.db.selectFrom("task_instance").select("state").where("dag_id", "=", dagId).execute();
        return rows.length === count && rows.every((r) => r.state === "scheduled") ? true : undefined;
      }, 30_000, 50);

    test("maxActiveTasks bounds the queued and running tasks of a DAG across its runs", async () => {
      const runs = [await h.trigger("limited", { logicalDate: Date.parse("2025-01-01T00:00:00Z") }), await h.trigger("limited", { logicalDate: Date.parse("2025-01-02T00:00:00Z") })];
      for (const runId of runs) assert.equal((await h.waitForRun("limited", runId)).state, "success");
      const rows = await tries("limited");
      assert.equal(rows.length, 8);
      assert.ok(mostAtOnce(rows) <= 2, `at most 2 tasks at once, saw ${mostAtOnce(rows)}`);
    });

    test("a task may take several slots of its pool; the pool's slots are never exceeded", async () => {
      const runId = await h.trigger("slots");
      assert.equal((await h.waitForRun("slots", runId)).state, "success");
      const rows = await tries("slots");
      assert.equal(rows.length, 3);
      const most = mostAtOnce(rows.map((r) => ({ ...r, weight: r.pool_slots })));
      assert.ok(most <= 2, `at most 2 slots of pool 'pair' at once, saw ${most}`);
      assert.equal(rows.find((r) => r.task_id === "big")?.pool_slots, 2);
    });

    test("with room for one task, the highest priority weight goes first", async () => {
      const runId = await h.trigger("prio");
      await allScheduled("prio", 3);
      assert.equal((await cli("pools", "set", "solo", "1")).code, 0);
      assert.equal((await h.waitForRun("prio", runId)).state, "success");
      assert.deepEqual((await tries("prio")).map((r) => r.task_id), ["high", "mid", "low"]);
    });

    test("among equal priorities, the run with the earlier logical date goes first", async () => {
      const later = await h.trigger("fifo", { logicalDate: Date.parse("2025-03-02T00:00:00Z") });
      const earlier = await h.trigger("fifo", { logicalDate: Date.parse("2025-03-01T00:00:00Z") });
      await allScheduled("fifo", 2);
      assert.equal((await cli("pools", "set", "fifo_pool", "1")).code, 0);
      for (const runId of [later, earlier]) assert.equal((await h.waitForRun("fifo", runId)).state, "success");
      assert.deepEqual((await tries("fifo")).map((r) => r.run_id), [earlier, later]);
    });

    test("weight rules: downstream (default) adds the tasks after, upstream the tasks before", async () => {
      const weights = async (dagId: string) => {
        const runId = await h.trigger(dagId);
        await h.waitForRun(dagId, runId);
        const rows = await h.store.db.selectFrom("task_instance").select(["task_id", "priority_weight"]).where("dag_id", "=", dagId).execute();
        return Object.fromEntries(rows.map((r) => [r.task_id, r.priority_weight]));
      };
      assert.deepEqual(await weights("weights_downstream"), { a: 3, b: 2, c: 1 });
      assert.deepEqual(await weights("weights_upstream"), { a: 1, b: 2, c: 3 });
    });

    test("the queue of a task is recorded on its task instance and on its try", async () => {
      const runId = await h.trigger("queues");
      assert.equal((await h.waitForRun("queues", runId)).state, "success");
      const tis = await h.store.db.selectFrom("task_instance").select(["task_id", "queue"]).where("dag_id", "=", "queues").orderBy("task_id").execute();
      assert.deepEqual(tis, [{ task_id: "default_task", queue: "default" }, { task_id: "etl_task", queue: "etl" }]);
      const rows = await tries("queues");
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.task_id, r.queue])), { default_task: "default", etl_task: "etl" });
    });

    test("pools CLI: list and get show slots in use; default_pool and pools in use cannot be deleted", async () => {
      const runId = await h.trigger("holder");
      await waitFor("hold to run", async () => ((await h.taskStates("holder", runId)).hold === "running" ? true : undefined), 30_000, 50);
      const got = await cli("pools", "get", "hold", "--json");
      assert.equal(got.code, 0, got.stderr);
      assert.deepEqual(JSON.parse(got.stdout), { pool: "hold", slots: 3, used: 2, queued: 0, open: 1, description: "test pool hold" });
      const list = await cli("pools", "list", "--json");
      const pools = JSON.parse(list.stdout) as Array<{ pool: string; slots: number }>;
      assert.deepEqual(pools.map((p) => p.pool), ["default_pool", "fifo_pool", "hold", "pair", "solo"]);
      assert.equal(pools.find((p) => p.pool === "default_pool")?.slots, 128);

      const inUse = await cli("pools", "delete", "hold");
      assert.equal(inUse.code, 2);
      assert.match(inUse.stderr, /pool 'hold' is in use by queued or running tries/);
      const dflt = await cli("pools", "delete", "default_pool");
      assert.equal(dflt.code, 2);
      assert.match(dflt.stderr, /default_pool cannot be deleted/);
      const missing = await cli("pools", "get", "nope");
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /pool 'nope' does not exist/);
      const badSlots = await cli("pools", "set", "x", "-1");
      assert.equal(badSlots.code, 2);

      assert.equal((await cli("dags", "mark-run", "holder", runId, "failed")).code, 0);
      const deleted = await cli("pools", "delete", "hold");
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal((await h.store.db.selectFrom("pool").select("pool").where("pool", "=", "hold").execute()).length, 0);
      const events = await h.store.db.selectFrom("event_log").select(["event", "owner"]).where("event", "like", "pool_%").execute();
      assert.ok(events.some((e) => e.event === "pool_delete" && e.owner === "cli"));
      assert.ok(events.some((e) => e.event === "pool_create" && e.owner === "cli"));
    });

    test("dependsOnPast: the first run is not blocked; the next waits until the previous instance succeeds", async () => {
      const first = await h.trigger("dop", { logicalDate: Date.parse("2025-01-01T00:00:00Z"), conf: { fail: true } });
      assert.deepEqual((await h.waitForRun("dop", first)).tasks, { a: "failed" });
      const second = await h.trigger("dop", { logicalDate: Date.parse("2025-01-02T00:00:00Z") });
      await waitFor("the second run to start", async () => ((await h.run("dop", second))?.state === "running" ? true : undefined));
      await new Promise((r) => setTimeout(r, 2_500)); // a few scheduler ticks
      assert.deepEqual(await h.taskStates("dop", second), { a: null }, "blocked while the previous instance failed");
      assert.equal((await cli("tasks", "mark", "dop", first, "a", "success")).code, 0);
      assert.deepEqual((await h.waitForRun("dop", second)).tasks, { a: "success" });
    });

    test("waitForDownstream: also waits for the previous instance's direct downstream tasks", async () => {
      const first = await h.trigger("wfd", { logicalDate: Date.parse("2025-01-01T00:00:00Z"), conf: { fail: true } });
      assert.deepEqual((await h.waitForRun("wfd", first)).tasks, { a: "success", b: "failed" });
      const second = await h.trigger("wfd", { logicalDate: Date.parse("2025-01-02T00:00:00Z") });
      await waitFor("the second run to start", async () => ((await h.run("wfd", second))?.state === "running" ? true : undefined));
      await new Promise((r) => setTimeout(r, 2_500));
      assert.deepEqual(await h.taskStates("wfd", second), { a: null, b: null }, "a waits for b of the previous run");
      assert.equal((await cli("tasks", "mark", "wfd", first, "b", "success")).code, 0);
      assert.deepEqual((await h.waitForRun("wfd", second)).tasks, { a: "success", b: "success" });
    });
  });
}
