/**
 * Branching, short-circuit, task groups and setup/teardown, on every dialect: which tasks run, which
 * are skipped, and the run's state, as an Airflow user expects them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { SerializedDag } from "../../src/dag/types.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const DAGS = {
  "branching.ts": `
import { dag, task, branch } from "aloft";
dag("branching", {}, () => {
  const choose = branch("choose", (ctx) => ctx.params.pick as string | string[] | null);
  const a = task("a", () => "a");
  const a2 = task("a2", () => "a2");
  const b = task("b", () => "b");
  const c = task("c", () => "c");
  const join = task("join", () => "join", { triggerRule: "none_failed_min_one_success" });
  // The join is also directly downstream of the branch: it is not skipped when a chosen path leads to it.
  choose.then([a, b, c, join]);
  a.then(a2);
  join.after([a2, b, c]);
});
`,
  "bash_branch.ts": `
import { dag, task, branch } from "aloft";
dag("bash_branch", {}, () => {
  branch("choose", "echo 'deciding...'; echo b,c").then([task("a", () => 1), task("b", () => 2), task("c", () => 3)]);
});
`,
  "short.ts": `
import { dag, task, shortCircuit } from "aloft";
dag("short_all", {}, () => {
  const check = shortCircuit("check", (ctx) => ctx.params.go);
  check.then(task("x", () => 1)).then(task("z", () => 2, { triggerRule: "all_done" }));
});
dag("short_direct", {}, () => {
  const check = shortCircuit("check", (ctx) => ctx.params.go, { ignoreDownstreamTriggerRules: false });
  check.then(task("x", () => 1)).then(task("z", () => 2, { triggerRule: "all_done" }));
});
`,
  "groups.ts": `
import { dag, task, group, chain } from "aloft";
dag("groups", {}, () => {
  const start = task("start", () => 1);
  const g = group("g", () => {
    task("a", () => 1).then(task("b", () => 2));
    group("sub", () => { task("c", () => 3, { retries: 1 }); });
  }, { defaults: { retries: 2 }, tooltip: "the g group" });
  const end = task("end", () => 4);
  chain(start, g, end);
});
`,
  "setup_teardown.ts": `
import { dag, task, setup, teardown } from "aloft";
const fail = () => { throw new Error("boom"); };
dag("st_work_fails", {}, () => {
  const s = setup("create", () => 1);
  const t = teardown("delete", () => 2, { setups: s });
  s.then(task("work", fail)).then(t);
});
dag("st_teardown_fails", {}, () => {
  const s = setup("create", () => 1);
  const t = teardown("delete", fail, { setups: s });
  s.then(task("work", () => 3)).then(t);
});
dag("st_setup_fails", {}, () => {
  const s = setup("create", fail);
  const t = teardown("delete", () => 2, { setups: s });
  s.then(task("work", () => 3)).then(t);
});
`,
};

for (const dialect of testDialects()) {
  describe(dialect.dialect, () => {
    const h = new Harness(dialect, DAGS);
    before(() => h.start());
    after(() => h.stop());

    const run = async (dagId: string, conf: Record<string, unknown> = {}) => h.waitForRun(dagId, await h.trigger(dagId, { conf }));

    describe("branching", () => {
      test("the chosen task runs; the other direct downstream tasks are skipped and the skip cascades; the join runs", async () => {
        const { state, tasks } = await run("branching", { pick: "b" });
        assert.equal(state, "success");
        assert.deepEqual(tasks, { a: "skipped", a2: "skipped", b: "success", c: "skipped", choose: "success", join: "success" });
      });

      test("choosing the join directly skips every path and runs the join", async () => {
        const { state, tasks } = await run("branching", { pick: "join" });
        assert.equal(state, "success");
        assert.deepEqual(tasks, { a: "skipped", a2: "skipped", b: "skipped", c: "skipped", choose: "success", join: "success" });
      });

      test("a list of ids runs each of them", async () => {
        const { tasks } = await run("branching", { pick: ["a", "c"] });
        assert.deepEqual(tasks, { a: "success", a2: "success", b: "skipped", c: "success", choose: "success", join: "success" });
      });

      test("null runs none of them: everything after the branch is skipped and the run succeeds", async () => {
        const { state, tasks } = await run("branching", { pick: null });
        assert.equal(state, "success");
        assert.deepEqual(tasks, { a: "skipped", a2: "skipped", b: "skipped", c: "skipped", choose: "success", join: "skipped" });
      });

      test("an id that is not a direct downstream task fails the branch, naming DAG, task and the valid choices", async () => {
        const runId = await h.trigger("branching", { conf: { pick: "a2" } });
        const { state, tasks } = await h.waitForRun("branching", runId);
        assert.equal(state, "failed");
        assert.equal(tasks.choose, "failed");
        assert.equal(tasks.a, "upstream_failed");
        const log = (await h.log("branching", runId, "choose")) ?? "";
        assert.match(log, /DAG 'branching', task 'choose': the branch returned "a2", which is not a direct downstream task; valid choices: a, b, c, join/);
      });
    });

    test("a bash branch runs the tasks named on the last line of its output", async () => {
      const { state, tasks } = await run("bash_branch");
      assert.equal(state, "success");
      assert.deepEqual(tasks, { a: "skipped", b: "success", c: "success", choose: "success" });
    });

    describe("short-circuit", () => {
      test("a truthy result continues", async () => {
        const { state, tasks } = await run("short_all", { go: true });
        assert.equal(state, "success");
        assert.deepEqual(tasks, { check: "success", x: "success", z: "success" });
      });

      test("falsy skips every descendant, whatever their trigger rules (ignoreDownstreamTriggerRules, the default)", async () => {
        const { state, tasks } = await run("short_all", { go: 0 });
        assert.equal(state, "success");
        assert.deepEqual(tasks, { check: "success", x: "skipped", z: "skipped" });
      });

      test("with ignoreDownstreamTriggerRules false, only direct downstream tasks are skipped and later trigger rules decide", async () => {
        const { state, tasks } = await run("short_direct", { go: false });
        assert.equal(state, "success");
        assert.deepEqual(tasks, { check: "success", x: "skipped", z: "success" });
      });
    });

    describe("task groups", () => {
      test("tasks get group-prefixed ids; dependencies go to the group's roots and from its leaves", async () => {
        const { state, tasks } = await run("groups");
        assert.equal(state, "success");
        assert.deepEqual(tasks, { end: "success", "g.a": "success", "g.b": "success", "g.sub.c": "success", start: "success" });
        const row = await h.store.db.selectFrom("dag").select("serialized").where("dag_id", "=", "groups").executeTakeFirstOrThrow();
        const dag = JSON.parse(row.serialized) as SerializedDag;
        const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
        assert.deepEqual(byId.get("g.a")!.upstream, ["start"]);
        assert.deepEqual(byId.get("g.sub.c")!.upstream, ["start"]);
        assert.deepEqual(byId.get("g.b")!.upstream, ["g.a"]);
        assert.deepEqual(byId.get("end")!.upstream, ["g.b", "g.sub.c"]);
        assert.deepEqual(dag.groups, [
          { groupId: "g", parent: null, tooltip: "the g group" },
          { groupId: "g.sub", parent: "g", },
        ]);
        assert.equal(byId.get("g.sub.c")!.group, "g.sub");
        // Group defaults apply to the group's tasks; a task's own option wins.
        assert.equal(byId.get("g.a")!.retries, 2);
        assert.equal(byId.get("g.sub.c")!.retries, 1);
        assert.equal(byId.get("start")!.retries, 0);
      });
    });

    describe("setup and teardown", () => {
      test("the teardown runs after failed work, and the run fails by the work task", async () => {
        const { state, tasks } = await run("st_work_fails");
        assert.deepEqual(tasks, { create: "success", delete: "success", work: "failed" });
        assert.equal(state, "failed");
      });

      test("a failing teardown does not fail the run when the work succeeded", async () => {
        const { state, tasks } = await run("st_teardown_fails");
        assert.deepEqual(tasks, { create: "success", delete: "failed", work: "success" });
        assert.equal(state, "success");
      });

      test("when the setup fails, neither the work nor the teardown runs (all_done_setup_success)", async () => {
        const { state, tasks } = await run("st_setup_fails");
        assert.deepEqual(tasks, { create: "failed", delete: "upstream_failed", work: "upstream_failed" });
        assert.equal(state, "failed");
      });
    });
  });
}
