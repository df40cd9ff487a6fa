/**
 * The web UI's DAG page endpoints on every dialect: the grid (runs × tasks as state codes, a mapped
 * task summarised, tasks only an older version had), the task structure (groups, upstream ids, a
 * version's own structure) and a run's Gantt rows (one a try); credentials and unknown DAGs and runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ApiUnderTest } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const VIEWS = `import { dag, task, group, chain } from "aloft";
dag("views", { schedule: null }, () => {
  const start = task("start", () => 1);
  const g = group("g", () => {
    task("a", () => 1).then(task("b", () => 2));
  });
  const items = task("items", () => [1, 2, 3]);
  const each = task("each", (ctx) => { if (ctx.item === 2) throw new Error("two fails"); return ctx.item; }).expand(items);
  const flaky = task("flaky", (ctx) => { if (ctx.tryNumber === 1) throw new Error("first try fails"); return 1; }, { retries: 1, retryDelay: "1s" });
  chain(start, g, items);
  start.then(flaky);
  void each;
});
`;
const shrinks = (withOld: boolean) => `import { dag, task } from "aloft";
dag("shrinks", { schedule: null }, () => {
  ${withOld ? 'task("old", () => 1).then(task("kept", () => 2));' : 'task("kept", () => 2);'}
});
`;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

for (const factory of testDialects()) {
  describe(`UI DAG views on ${factory.dialect}`, () => {
    const harness = new Harness(factory, { "views.ts": VIEWS, "shrinks.ts": shrinks(true) });
    const api = new ApiUnderTest(harness);
    let runId = "";
    let oldRun = "";
    let newRun = "";

    before(async () => {
      await harness.start();
      await api.start();
      runId = await harness.trigger("views");
      oldRun = await harness.trigger("shrinks");
      assert.equal((await harness.waitForRun("shrinks", oldRun)).state, "success");
      harness.writeDags({ "shrinks.ts": shrinks(false) });
      await harness.reparse();
      newRun = await harness.trigger("shrinks", { logicalDate: Date.now() + 1000, runAfter: Date.now() + 1000 });
      assert.equal((await harness.waitForRun("shrinks", newRun)).state, "success");
      assert.equal((await harness.waitForRun("views", runId)).state, "failed");
    });
    after(async () => {
      await api.stop();
      await harness.stop();
    });

    const get = async (url: string, status = 200) => {
      const response = await api.call("GET", url);
      assert.equal(response.statusCode, status, `${url}: ${response.body}`);
      return response.json<Json>();
    };

    test("grid: tasks in topological order with groups, one state code per task and run, a mapped task shown by its worst instance", async () => {
      const grid = await get("/ui/api/dags/views/grid?runs=25");
      const ids = grid.tasks.map((t: Json) => t.id);
      assert.equal(ids.length, 6);
      for (const [before, after] of [["start", "g.a"], ["g.a", "g.b"], ["g.b", "items"], ["items", "each"], ["start", "flaky"]]) {
        assert.ok(ids.indexOf(before) < ids.indexOf(after), `${before} before ${after}: ${ids}`);
      }
      const byId = Object.fromEntries(grid.tasks.map((t: Json) => [t.id, t]));
      assert.deepEqual(byId["g.a"], { id: "g.a", group: "g", kind: "function", operator: null, mapped: false });
      assert.equal(byId.each.mapped, true);
      assert.equal(grid.runs.length, 1);
      const run = grid.runs[0];
      assert.equal(run.run_id, runId);
      assert.equal(run.state, "failed");
      assert.equal(run.run_type, "manual");
      assert.equal(run.dag_version_number, 1);
      assert.match(run.start_date, /^\d{4}-\d\d-\d\dT/);
      const states = Object.fromEntries(ids.map((id: string, i: number) => [id, grid.state_codes[run.states[i]]]));
      // each[1] failed, each[0] and each[2] succeeded: the failure is what the mapped task's cell shows.
      assert.deepEqual(states, { start: "success", "g.a": "success", "g.b": "success", items: "success", each: "failed", flaky: "success" });
    });

    test("grid: an older run's tasks that the current version dropped are rows too; runs oldest first; runs limits them", async () => {
      const grid = await get("/ui/api/dags/shrinks/grid");
      assert.deepEqual(
        grid.tasks.map((t: Json) => t.id),
        ["kept", "old"],
      );
      assert.deepEqual(
        grid.runs.map((r: Json) => r.run_id),
        [oldRun, newRun],
      );
      const codes = grid.runs.map((r: Json) => r.states.map((c: number) => grid.state_codes[c]));
      assert.deepEqual(codes, [
        ["success", "success"],
        ["success", ""],
      ]);
      assert.deepEqual(grid.runs.map((r: Json) => r.dag_version_number), [1, 2]);
      const one = await get("/ui/api/dags/shrinks/grid?runs=1");
      assert.deepEqual(
        one.runs.map((r: Json) => r.run_id),
        [newRun],
      );
      assert.deepEqual(
        one.tasks.map((t: Json) => t.id),
        ["kept"],
      );
    });

    test("structure: tasks with upstream ids and groups; a version's own structure; unknown version 404", async () => {
      const structure = await get("/ui/api/dags/views/structure");
      assert.equal(structure.version_number, 1);
      const byId = Object.fromEntries(structure.tasks.map((t: Json) => [t.id, t]));
      assert.deepEqual(byId["g.b"].upstream, ["g.a"]);
      assert.deepEqual(byId["g.a"].upstream, ["start"]);
      assert.deepEqual(byId.items.upstream, ["g.b"]);
      assert.deepEqual(byId.each.upstream, ["items"]);
      assert.equal(byId.each.mapped, true);
      assert.deepEqual(structure.groups, [{ id: "g", parent: null, tooltip: null }]);

      const v1 = await get("/ui/api/dags/shrinks/structure?version_number=1");
      assert.deepEqual(
        v1.tasks.map((t: Json) => [t.id, t.upstream]),
        [
          ["old", []],
          ["kept", ["old"]],
        ],
      );
      const current = await get("/ui/api/dags/shrinks/structure");
      assert.equal(current.version_number, 2);
      assert.deepEqual(
        current.tasks.map((t: Json) => t.id),
        ["kept"],
      );
      assert.match((await get("/ui/api/dags/shrinks/structure?version_number=9", 404)).detail, /no version 9/);
    });

    test("gantt: one row a try, earlier tries included, the mapped task's instances by map index", async () => {
      const gantt = await get(`/ui/api/dags/views/runs/${encodeURIComponent(runId)}/gantt`);
      assert.deepEqual(gantt.columns, ["task_id", "map_index", "try_number", "state", "queued_at", "start", "end"]);
      assert.equal(gantt.state, "failed");
      const rows = gantt.rows.map((r: unknown[]) => `${r[0]}[${r[1]}]#${r[2]}:${r[3]}`).sort();
      assert.deepEqual(rows, [
        "each[0]#1:success",
        "each[1]#1:failed",
        "each[2]#1:success",
        "flaky[-1]#1:failed",
        "flaky[-1]#2:success",
        "g.a[-1]#1:success",
        "g.b[-1]#1:success",
        "items[-1]#1:success",
        "start[-1]#1:success",
      ]);
      for (const row of gantt.rows) {
        const [, , , , queued, start, end] = row as [string, number, number, string, number | null, number, number];
        assert.ok(typeof start === "number" && typeof end === "number" && start <= end, JSON.stringify(row));
        if (queued !== null) assert.ok(queued <= start, JSON.stringify(row));
      }
    });

    test("401 without credentials; 404 with a clear problem for an unknown DAG or run; 422 for bad input", async () => {
      for (const url of ["/ui/api/dags/views/grid", "/ui/api/dags/views/structure", `/ui/api/dags/views/runs/${runId}/gantt`]) {
        assert.equal((await api.call("GET", url, { as: null })).statusCode, 401, url);
      }
      for (const url of ["/ui/api/dags/nope/grid", "/ui/api/dags/nope/structure", "/ui/api/dags/nope/runs/r/gantt"]) {
        assert.match((await get(url, 404)).detail, /DAG 'nope' was not found/);
      }
      assert.match((await get("/ui/api/dags/views/runs/no-such-run/gantt", 404)).detail, /DAG 'views' has no run 'no-such-run'/);
      assert.equal((await api.call("GET", "/ui/api/dags/views/grid?runs=0")).statusCode, 422);
      assert.equal((await api.call("GET", "/ui/api/dags/views/grid?color=red")).statusCode, 422);
    });
  });
}
