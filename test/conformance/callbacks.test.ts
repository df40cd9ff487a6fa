/**
 * Task and DAG callbacks on every dialect. Callbacks prove they ran by appending lines to a file.
 * Task callbacks run in the runner with the task's context (and the error for onFailure/onRetry); an
 * error in a callback is logged to the try's log and leaves the task's state alone. DAG callbacks run
 * after the run's state is stored, in a process of their own. A try killed by its executionTimeout
 * still gets its onFailure callback.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { tempDir, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

function dags(file: string): Record<string, string> {
  return {
    "callbacks.ts": `
import fs from "node:fs";
import { dag, task, SkipTask } from "aloft";
const note = (line: string) => fs.appendFileSync(${JSON.stringify(file)}, line + "\\n");
const firstLine = (error?: string) => (error ?? "").split("\\n")[0];

dag("cb_tasks", {}, () => {
  task("ok", () => "fine", {
    onExecute: (ctx) => note(\`\${ctx.runId} ok execute try=\${ctx.tryNumber}\`),
    onSuccess: (ctx) => note(\`\${ctx.runId} ok success task=\${ctx.taskId}\`),
  });
  task("flaky", () => { throw new Error("flaky broke"); }, {
    retries: 1,
    retryDelay: "1s",
    onRetry: (ctx) => note(\`\${ctx.runId} flaky retry try=\${ctx.tryNumber} error=\${firstLine(ctx.error)}\`),
    onFailure: (ctx) => note(\`\${ctx.runId} flaky failure try=\${ctx.tryNumber} error=\${firstLine(ctx.error)}\`),
  });
  task("skipper", () => { throw new SkipTask("nothing to do"); }, {
    onSkipped: (ctx) => note(\`\${ctx.runId} skipper skipped\`),
  });
  task("bad_callback", () => "fine", {
    onSuccess: () => { throw new Error("the callback broke"); },
  });
});

dag("cb_dag_ok", { onSuccess: (ctx) => note(\`\${ctx.runId} dag \${ctx.dagId} \${ctx.state} reason=\${ctx.reason}\`) }, () => {
  task("only", () => 1);
});

dag("cb_dag_fail", {
  onFailure: (ctx) => note(\`\${ctx.runId} dag \${ctx.dagId} \${ctx.state} reason=\${ctx.reason}\`),
  onSuccess: (ctx) => note(\`\${ctx.runId} dag \${ctx.dagId} unexpected success\`),
  defaults: { onFailure: (ctx) => note(\`\${ctx.runId} default failure task=\${ctx.taskId}\`) },
}, () => {
  task("boom", () => { throw new Error("boom"); });
});

dag("cb_run_timeout", { dagrunTimeout: "1s", onFailure: (ctx) => note(\`\${ctx.runId} dag \${ctx.state} reason=\${ctx.reason}\`) }, () => {
  task("long", () => new Promise((resolve) => setTimeout(resolve, 20_000)));
});

dag("cb_timeout", {}, () => {
  task("slow", () => new Promise((resolve) => setTimeout(resolve, 20_000)), {
    executionTimeout: "1s",
    onFailure: (ctx) => note(\`\${ctx.runId} slow failure error=\${firstLine(ctx.error)}\`),
  });
});
`,
  };
}

for (const dialect of testDialects()) {
  describe(dialect.dialect, () => {
    const dir = tempDir("callback-files");
    const file = path.join(dir, "calls.log");
    const h = new Harness(dialect, dags(file));
    before(() => h.start());
    after(async () => {
      await h.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The lines callbacks wrote for one run. */
    const lines = (runId: string) =>
      (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")
        .split("\n")
        .filter((l) => l.startsWith(`${runId} `))
        .map((l) => l.slice(runId.length + 1));

    test("task callbacks: onExecute and onSuccess, onRetry then onFailure with the error, onSkipped", async () => {
      const runId = await h.trigger("cb_tasks");
      const { state, tasks } = await h.waitForRun("cb_tasks", runId);
      assert.equal(state, "failed");
      assert.deepEqual(tasks, { bad_callback: "success", flaky: "failed", ok: "success", skipper: "skipped" });
      assert.deepEqual(lines(runId).sort(), [
        "flaky failure try=2 error=Error: flaky broke",
        "flaky retry try=1 error=Error: flaky broke",
        "ok execute try=1",
        "ok success task=ok",
        "skipper skipped",
      ]);
    });

    test("an error in a callback is logged to the try's log and does not change the task's state", async () => {
      const runId = await h.trigger("cb_tasks");
      const { tasks } = await h.waitForRun("cb_tasks", runId);
      assert.equal(tasks.bad_callback, "success");
      const log = (await h.log("cb_tasks", runId, "bad_callback")) ?? "";
      assert.match(log, /onSuccess callback failed \(the task's state is unchanged\): Error: the callback broke/);
    });

    test("a DAG's onSuccess runs once the run has succeeded", async () => {
      const runId = await h.trigger("cb_dag_ok");
      assert.equal((await h.waitForRun("cb_dag_ok", runId)).state, "success");
      const got = await waitFor("the DAG callback", async () => (lines(runId).length > 0 ? lines(runId) : undefined));
      assert.deepEqual(got, ["dag cb_dag_ok success reason=success"]);
      // The request is recorded as done once the callback process has reported back.
      const requests = await waitFor("the callback request to be recorded", async () => {
        const rows = await h.store.db.selectFrom("callback_request").select(["state", "callback"]).where("run_id", "=", runId).execute();
        return rows.every((r) => r.state !== "pending" && r.state !== "running") ? rows : undefined;
      });
      assert.deepEqual(requests, [{ state: "success", callback: "onSuccess" }]);
    });

    test("a DAG's onFailure runs once the run has failed; task callbacks from the DAG's defaults run too", async () => {
      const runId = await h.trigger("cb_dag_fail");
      assert.equal((await h.waitForRun("cb_dag_fail", runId)).state, "failed");
      await waitFor("the DAG callback", async () => (lines(runId).some((l) => l.startsWith("dag")) || undefined));
      assert.deepEqual(lines(runId).sort(), ["dag cb_dag_fail failed reason=task_failure", "default failure task=boom"]);
    });

    test("a run failed by its dagrunTimeout gets the DAG's onFailure with reason timed_out", async () => {
      const runId = await h.trigger("cb_run_timeout");
      assert.equal((await h.waitForRun("cb_run_timeout", runId)).state, "failed");
      const got = await waitFor("the DAG callback", async () => (lines(runId).length > 0 ? lines(runId) : undefined));
      assert.deepEqual(got, ["dag failed reason=timed_out"]);
    });

    test("a try killed by its executionTimeout still gets its onFailure callback, with the reason", async () => {
      const runId = await h.trigger("cb_timeout");
      const { state, tasks } = await h.waitForRun("cb_timeout", runId);
      assert.equal(state, "failed");
      assert.equal(tasks.slow, "failed");
      const got = await waitFor("the onFailure callback", async () => (lines(runId).length > 0 ? lines(runId) : undefined));
      assert.equal(got.length, 1);
      assert.match(got[0]!, /^slow failure error=execution timeout: the try ran longer than 1000 ms/);
    });
  });

  describe(`${dialect.dialect}, one runner slot`, () => {
    const dir = tempDir("callback-busy");
    const file = path.join(dir, "calls.log");
    const h = new Harness(
      dialect,
      {
        "busy.ts": `
import fs from "node:fs";
import { dag, task } from "aloft";
dag("quick", { onSuccess: (ctx) => fs.appendFileSync(${JSON.stringify(file)}, ctx.runId + " quick callback\\n") }, () => {
  task("first", () => 1, { priorityWeight: 10 });
});
dag("hog", {}, () => {
  task("hold", () => new Promise((resolve) => setTimeout(resolve, 8_000)));
});
`,
      },
      { parallelism: 1 },
    );
    before(() => h.start());
    after(async () => {
      await h.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("a DAG callback runs while the only runner slot is taken by another task", async () => {
      const quick = await h.trigger("quick");
      const hog = await h.trigger("hog");
      assert.equal((await h.waitForRun("quick", quick)).state, "success");
      await waitFor("the quick DAG's callback", async () => (fs.existsSync(file) && fs.readFileSync(file, "utf8").includes(`${quick} quick callback`)) || undefined);
      // The hog's task still holds the one slot: the callback did not wait for a runner.
      assert.equal((await h.taskStates("hog", hog)).hold, "running");
    });
  });
}
