/**
 * The trigger-rule table of the reference (Airflow's trigger_rule_dep.py), row by row, through the
 * real scheduler on every dialect: for each rule, targets whose direct upstream tasks end in given
 * states either run (and succeed) or get the state the scheduler writes when the rule cannot pass.
 *
 * One DAG holds every row, so one run per dialect covers the table: upstream tasks with fixed
 * outcomes (S success, F failed, K skipped, U upstream_failed) and a target per row.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { tempDir, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

type Outcome = "S" | "F" | "K" | "U";

interface Row {
  rule: string;
  upstream: Outcome[];
  /** "ran" when the rule passes (the target runs and succeeds), else the state the scheduler writes. */
  expect: "ran" | "skipped" | "upstream_failed";
}

/**
 * Rows of the reference table: each "passes when" and each "state written when it cannot pass".
 * Rows whose result depends on which upstream finishes first are left out: all_success with one
 * upstream skipped and another failed writes skipped or upstream_failed by finishing order, in
 * Airflow as here, because neither state waits for the other upstream tasks.
 */
const ROWS: Row[] = [
  { rule: "all_success", upstream: ["S", "S"], expect: "ran" },
  { rule: "all_success", upstream: ["S", "F"], expect: "upstream_failed" },
  { rule: "all_success", upstream: ["S", "U"], expect: "upstream_failed" },
  { rule: "all_success", upstream: ["S", "K"], expect: "skipped" },
  { rule: "all_failed", upstream: ["F", "U"], expect: "ran" },
  { rule: "all_failed", upstream: ["F", "S"], expect: "skipped" },
  { rule: "all_failed", upstream: ["F", "K"], expect: "skipped" },
  { rule: "all_done", upstream: ["S", "F", "K", "U"], expect: "ran" },
  { rule: "one_success", upstream: ["S", "F"], expect: "ran" },
  { rule: "one_success", upstream: ["K", "K"], expect: "skipped" },
  { rule: "one_success", upstream: ["F", "K"], expect: "upstream_failed" },
  { rule: "one_failed", upstream: ["F", "S"], expect: "ran" },
  { rule: "one_failed", upstream: ["U", "S"], expect: "ran" },
  { rule: "one_failed", upstream: ["S", "K"], expect: "skipped" },
  { rule: "one_done", upstream: ["S", "K"], expect: "ran" },
  { rule: "one_done", upstream: ["F", "K"], expect: "ran" },
  { rule: "one_done", upstream: ["K", "K"], expect: "skipped" },
  { rule: "none_failed", upstream: ["S", "K"], expect: "ran" },
  { rule: "none_failed", upstream: ["S", "F"], expect: "upstream_failed" },
  { rule: "none_failed", upstream: ["K", "U"], expect: "upstream_failed" },
  { rule: "none_failed_min_one_success", upstream: ["S", "K"], expect: "ran" },
  { rule: "none_failed_min_one_success", upstream: ["K", "K"], expect: "skipped" },
  { rule: "none_failed_min_one_success", upstream: ["S", "F"], expect: "upstream_failed" },
  { rule: "none_skipped", upstream: ["S", "F"], expect: "ran" },
  { rule: "none_skipped", upstream: ["S", "K"], expect: "skipped" },
  { rule: "all_skipped", upstream: ["K", "K"], expect: "ran" },
  { rule: "all_skipped", upstream: ["K", "S"], expect: "skipped" },
  { rule: "all_skipped", upstream: ["K", "F"], expect: "skipped" },
  { rule: "all_done_min_one_success", upstream: ["S", "F"], expect: "ran" },
  { rule: "all_done_min_one_success", upstream: ["S", "K"], expect: "ran" },
  { rule: "all_done_min_one_success", upstream: ["F", "U"], expect: "upstream_failed" },
  { rule: "all_done_setup_success", upstream: ["S", "F"], expect: "ran" },
  { rule: "always", upstream: ["F", "U"], expect: "ran" },
];

const SOURCES: Record<Outcome, string> = { S: "succeeds", F: "fails", K: "skips", U: "upstream_failed_task" };
const targetId = (row: Row, index: number) => `t${String(index).padStart(2, "0")}_${row.rule}__${row.upstream.join("")}`;

const markers = tempDir("markers");
fs.rmSync(markers, { recursive: true });
fs.mkdirSync(markers);

/** The DAG: fixed-outcome upstream tasks, a target per row, and the "does not wait" checks. */
const DAG_FILE = `
  import { dag, task, FailTask, SkipTask } from "aloft";
  import fs from "node:fs";
  const markers = ${JSON.stringify(markers)};
  dag("trigger_rules", { schedule: null }, () => {
    const sources = {
      S: task("succeeds", () => "ok"),
      F: task("fails", () => { throw new FailTask("fails on purpose"); }),
      K: task("skips", () => { throw new SkipTask(); }),
    };
    sources.U = task("upstream_failed_task", () => "never runs");
    sources.F.then(sources.U);
    const rows = ${JSON.stringify(ROWS.map((row, index) => ({ id: targetId(row, index), rule: row.rule, upstream: row.upstream })))};
    for (const row of rows) {
      // The same outcome twice gets a second upstream task with that outcome, so counts are exact.
      const upstream = row.upstream.map((o, i) => row.upstream.indexOf(o) === i ? sources[o] : copy(o, row.id + "_" + i));
      task(row.id, () => "ran", { triggerRule: row.rule }).after(upstream);
    }
    function copy(outcome, id) {
      if (outcome === "S") return task(id, () => "ok");
      if (outcome === "F") return task(id, () => { throw new FailTask("fails on purpose"); });
      if (outcome === "K") return task(id, () => { throw new SkipTask(); });
      const failing = task(id + "_f", () => { throw new FailTask("fails on purpose"); });
      return failing.then(task(id, () => "never runs"));
    }

    // one_success and one_failed do not wait for the rest: "slow" only finishes once both targets ran.
    const slow = task("slow", async () => {
      for (let i = 0; i < 300; i++) {
        if (fs.existsSync(markers + "/one_success") && fs.existsSync(markers + "/one_failed")) return "released";
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new FailTask("one_success or one_failed waited for the rest of its upstream tasks");
    });
    task("one_success_no_wait", () => fs.writeFileSync(markers + "/one_success", ""), { triggerRule: "one_success" })
      .after([sources.S, slow]);
    task("one_failed_no_wait", () => fs.writeFileSync(markers + "/one_failed", ""), { triggerRule: "one_failed" })
      .after([sources.F, slow]);
  });

  dag("leaves_success_or_skipped", { schedule: null }, () => {
    task("first", () => "ok").then([task("leaf_ok", () => "ok"), task("leaf_skipped", () => { throw new SkipTask(); })]);
  });

  dag("leaf_upstream_failed", { schedule: null }, () => {
    task("boom", () => { throw new FailTask("boom"); }).then(task("leaf", () => "never"));
    task("other_leaf", () => "ok");
  });
`;

for (const dialect of testDialects()) {
  describe(`trigger rules (${dialect.dialect})`, () => {
    const h = new Harness(dialect, { "trigger_rules.ts": DAG_FILE });
    let tasks: Record<string, string | null>;
    let runState: string;

    before(async () => {
      await h.start();
      for (const name of fs.readdirSync(markers)) fs.rmSync(path.join(markers, name));
      const runId = await h.trigger("trigger_rules");
      ({ tasks, state: runState } = await h.waitForRun("trigger_rules", runId, 90_000));
    });
    after(() => h.stop());

    test("the fixed-outcome upstream tasks end as intended", () => {
      assert.deepEqual(
        Object.values(SOURCES).map((id) => tasks[id]),
        ["success", "failed", "skipped", "upstream_failed"],
      );
    });

    ROWS.forEach((row, index) => {
      const counts = row.upstream.map((o) => ({ S: "success", F: "failed", K: "skipped", U: "upstream_failed" })[o]).join(", ");
      test(`${row.rule} with upstream [${counts}]: ${row.expect === "ran" ? "passes" : `writes ${row.expect}`}`, () => {
        assert.equal(tasks[targetId(row, index)], row.expect === "ran" ? "success" : row.expect);
      });
    });

    test("one_success and one_failed run without waiting for their other upstream tasks", () => {
      assert.equal(tasks["one_success_no_wait"], "success");
      assert.equal(tasks["one_failed_no_wait"], "success");
      assert.equal(tasks["slow"], "success", "the slow upstream task is released only once both targets ran");
    });

    test("a run with a failed or upstream_failed leaf fails", () => {
      assert.equal(runState, "failed");
    });

    test("a run succeeds when every leaf is success or skipped", async () => {
      const runId = await h.trigger("leaves_success_or_skipped");
      const { state, tasks } = await h.waitForRun("leaves_success_or_skipped", runId);
      assert.deepEqual(tasks, { first: "success", leaf_ok: "success", leaf_skipped: "skipped" });
      assert.equal(state, "success");
    });

    test("a task removed from the DAG while its run runs still runs on the run's version; a new run has no such task", async () => {
      const flag = path.join(markers, "release_removal");
      const dagFile = (withLater: boolean) => `
        import fs from "node:fs";
        import { dag, task } from "aloft";
        dag("removal", { schedule: null }, () => {
          const first = task("first", async () => {
            while (!fs.existsSync(${JSON.stringify(flag)})) await new Promise((r) => setTimeout(r, 100));
          });
          ${withLater ? 'first.then(task("later", () => "ok"));' : ""}
        });`;
      h.writeDags({ "removal.ts": dagFile(true) });
      await h.reparse();
      const runId = await h.trigger("removal");
      await waitFor("first to run", async () => ((await h.taskStates("removal", runId)).first === "running") || undefined);
      h.writeDags({ "removal.ts": dagFile(false) });
      await h.reparse();
      fs.writeFileSync(flag, "");
      const { state, tasks } = await h.waitForRun("removal", runId);
      // Runs keep the DAG version they started with, so the task the new version dropped still runs.
      assert.deepEqual(tasks, { first: "success", later: "success" });
      assert.equal(state, "success");
      const next = await h.waitForRun("removal", await h.trigger("removal"));
      assert.deepEqual(next.tasks, { first: "success" });
    });

    test("an upstream_failed leaf fails the run even when another leaf succeeded", async () => {
      const runId = await h.trigger("leaf_upstream_failed");
      const { state, tasks } = await h.waitForRun("leaf_upstream_failed", runId);
      assert.deepEqual(tasks, { boom: "failed", leaf: "upstream_failed", other_leaf: "success" });
      assert.equal(state, "failed");
    });
  });
}
