/**
 * Changes by hand, through the real CLI against the engine's database, on every dialect: clearing
 * (finished and running task instances), marking tasks and runs, notes; each written to event_log.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, tempDir, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const callbackFile = path.join(tempDir("operations-callbacks"), "callbacks.txt");

const DAGS = {
  "operations.ts": `
import fs from "node:fs";
import { bash, dag, task } from "aloft";
const note = (line: string) => fs.appendFileSync(${JSON.stringify(callbackFile)}, line + "\\n");
const taskCallbacks = {
  onSuccess: (ctx: { runId: string; taskId: string }) => note(\`\${ctx.runId} \${ctx.taskId} success\`),
  onFailure: (ctx: { runId: string; taskId: string }) => note(\`\${ctx.runId} \${ctx.taskId} failure\`),
  onSkipped: (ctx: { runId: string; taskId: string }) => note(\`\${ctx.runId} \${ctx.taskId} skipped\`),
};

// Callbacks everywhere, to show that changes made by hand fire none of them.
dag("by_hand", { onFailure: (ctx) => note(\`\${ctx.runId} dag failure\`) }, () => {
  task("slow", () => new Promise((resolve) => setTimeout(resolve, 30_000)), taskCallbacks);
});

// The control: the same callbacks fire when the engine itself reaches the states.
dag("by_engine", { onFailure: (ctx) => note(\`\${ctx.runId} dag failure\`) }, () => {
  task("boom", () => { throw new Error("boom"); }, taskCallbacks);
});

// Fails on its first try only, so that a clear makes the run succeed.
dag("flaky", {}, () => {
  task("a", (ctx) => { if (ctx.tryNumber === 1) throw new Error("first try fails"); return ctx.tryNumber; })
    .then(task("b", () => "b"));
});

dag("partial", {}, () => {
  task("ok", () => 1);
  task("bad", (ctx) => { if (ctx.tryNumber === 1) throw new Error("first try fails"); return 1; });
});

dag("retrying", {}, () => {
  task("always", () => { throw new Error("always fails"); }, { retries: 1, retryDelay: "1s" });
});

dag("long", {}, () => {
  bash("sleeper", "sleep 30");
});

dag("chain", {}, () => {
  bash("first", "sleep 30").then(bash("second", "true")).then(bash("third", "true"));
});

dag("markable", {}, () => {
  task("a", () => { throw new Error("a fails"); }).then(task("b", () => 1)).then(task("c", () => 1));
});

dag("external", {}, () => {
  bash("slow", "sleep 30");
});

dag("run_timeout", { dagrunTimeout: "1s" }, () => {
  bash("slow", "sleep 30");
});

dag("notes", {}, () => {
  task("t", () => 1);
});
`,
};

for (const dialect of testDialects()) {
  describe(`operations on ${dialect.dialect}`, () => {
    const h = new Harness(dialect, DAGS);
    const cli = (...args: string[]) => runCli(args, { ALOFT_DATABASE_URL: h.config.databaseUrl, ALOFT_HOME: h.home });
    before(() => h.start());
    after(() => h.stop());

    const ti = async (dagId: string, runId: string, taskId: string) =>
      (await h.store.db.selectFrom("task_instance").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).where("task_id", "=", taskId).executeTakeFirst())!;
    const events = (dagId: string, runId: string) =>
      h.store.db.selectFrom("event_log").select(["event", "task_id", "owner", "extra"]).where("dag_id", "=", dagId).where("run_id", "=", runId).orderBy("id").execute();
    const waitState = (dagId: string, runId: string, taskId: string, state: string, tryNumber?: number) =>
      waitFor(`${dagId}.${taskId} to be ${state}`, async () => {
        const row = await h.store.db.selectFrom("task_instance").select(["state", "try_number"]).where("dag_id", "=", dagId).where("run_id", "=", runId).where("task_id", "=", taskId).executeTakeFirst();
        return row?.state === state && (tryNumber === undefined || row.try_number === tryNumber) ? row : undefined;
      }, 30_000, 50);

    test("tasks clear --downstream on a failed run: instances go back to none, the run to queued, and it runs again to success", async () => {
      const runId = await h.trigger("flaky");
      assert.deepEqual((await h.waitForRun("flaky", runId)).tasks, { a: "failed", b: "upstream_failed" });

      const dry = await cli("tasks", "clear", "flaky", runId, "a", "--downstream", "--dry-run", "--json");
      assert.equal(dry.code, 0, dry.stderr);
      const preview = JSON.parse(dry.stdout) as { cleared: Array<{ taskId: string; from: string; to: null }>; runState: { from: string; to: string } };
      assert.deepEqual(preview.cleared.map((c) => [c.taskId, c.from, c.to]), [["a", "failed", null], ["b", "upstream_failed", null]]);
      assert.deepEqual(preview.runState, { from: "failed", to: "queued" });
      assert.equal((await h.run("flaky", runId))?.state, "failed", "a dry run changes nothing");

      const unconfirmed = await cli("tasks", "clear", "flaky", runId, "a");
      assert.equal(unconfirmed.code, 2);
      assert.match(unconfirmed.stderr, /pass --yes/);

      const unknown = await cli("tasks", "clear", "flaky", runId, "nope", "--yes");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /has no task 'nope'/);

      const cleared = await cli("tasks", "clear", "flaky", runId, "a", "--downstream", "--yes");
      assert.equal(cleared.code, 0, cleared.stderr);
      assert.match(cleared.stdout, /cleared 2 task instance\(s\)/);
      const done = await h.waitForRun("flaky", runId);
      assert.equal(done.state, "success");
      assert.deepEqual(done.tasks, { a: "success", b: "success" });
      assert.equal((await ti("flaky", runId, "a")).try_number, 2);
      const log = await events("flaky", runId);
      assert.deepEqual(log.filter((e) => e.event === "clear").map((e) => [e.task_id, e.owner]), [["a", "cli"], ["b", "cli"]]);
      assert.ok(log.some((e) => e.event === "clear_run_state" && e.owner === "cli"));
    });

    test("dags clear-run --only-failed clears only failed and upstream_failed instances", async () => {
      const runId = await h.trigger("partial");
      assert.deepEqual((await h.waitForRun("partial", runId)).tasks, { bad: "failed", ok: "success" });
      const res = await cli("dags", "clear-run", "partial", runId, "--only-failed");
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual((await h.waitForRun("partial", runId)).tasks, { bad: "success", ok: "success" });
      assert.equal((await ti("partial", runId, "ok")).try_number, 1, "the successful task did not run again");
      assert.equal((await ti("partial", runId, "bad")).try_number, 2);
    });

    test("clearing gives the retries again: max_tries = try_number + retries", async () => {
      const runId = await h.trigger("retrying");
      assert.equal((await h.waitForRun("retrying", runId)).state, "failed");
      assert.deepEqual(await h.store.db.selectFrom("task_instance").select(["try_number", "max_tries"]).where("run_id", "=", runId).where("dag_id", "=", "retrying").executeTakeFirst(), { try_number: 2, max_tries: 1 });
      assert.equal((await cli("dags", "clear-run", "retrying", runId)).code, 0);
      assert.equal((await ti("retrying", runId, "always")).max_tries, 3);
      await waitFor("the run to start again", async () => ((await h.run("retrying", runId))?.state !== "failed" ? true : undefined), 30_000, 50);
      const done = await h.waitForRun("retrying", runId);
      assert.equal(done.state, "failed");
      assert.equal((await ti("retrying", runId, "always")).try_number, 4, "two more tries: the first and its retry");
    });

    test("clearing a running instance sets it restarting; the executor stops the try and runs it again", async () => {
      const runId = await h.trigger("long");
      await waitState("long", runId, "sleeper", "running", 1);
      const res = await cli("tasks", "clear", "long", runId, "sleeper", "--yes", "--json");
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual((JSON.parse(res.stdout) as { cleared: unknown[] }).cleared, [{ taskId: "sleeper", mapIndex: -1, from: "running", to: "restarting" }]);
      await waitState("long", runId, "sleeper", "running", 2);
      const first = await h.store.db.selectFrom("task_try").select(["state", "end_date"]).where("dag_id", "=", "long").where("run_id", "=", runId).where("try_number", "=", 1).executeTakeFirstOrThrow();
      assert.equal(first.state, "restarting");
      assert.notEqual(first.end_date, null);
      assert.match((await h.log("long", runId, "sleeper", 1)) ?? "", /try stopped: the task instance was cleared while the try ran/);

      // Marking the running try success stops it too, and its outcome does not overwrite the mark.
      const marked = await cli("tasks", "mark", "long", runId, "sleeper", "success");
      assert.equal(marked.code, 0, marked.stderr);
      const done = await h.waitForRun("long", runId);
      assert.equal(done.state, "success");
      await waitFor("try 2 to be closed", async () => {
        const row = await h.store.db.selectFrom("task_try").select(["state", "end_date"]).where("dag_id", "=", "long").where("run_id", "=", runId).where("try_number", "=", 2).executeTakeFirst();
        return row?.end_date ? row : undefined;
      }, 30_000, 50);
      assert.match((await h.log("long", runId, "sleeper", 2)) ?? "", /try stopped: the task instance was marked success by hand/);
      assert.equal((await ti("long", runId, "sleeper")).state, "success");
    });

    test("dags mark-run failed: running instances failed, unfinished ones skipped, the try stopped", async () => {
      const runId = await h.trigger("chain");
      await waitState("chain", runId, "first", "running", 1);
      const res = await cli("dags", "mark-run", "chain", runId, "failed");
      assert.equal(res.code, 0, res.stderr);
      const run = await h.run("chain", runId);
      assert.equal(run?.state, "failed");
      assert.notEqual(run?.end_date, null);
      assert.deepEqual(await h.taskStates("chain", runId), { first: "failed", second: "skipped", third: "skipped" });
      await waitFor("the try to be stopped", async () => {
        const log = await h.log("chain", runId, "first");
        return log?.includes("try stopped") ? log : undefined;
      }, 30_000, 100);
      assert.deepEqual((await events("chain", runId)).map((e) => [e.event, e.owner]), [["mark_run_failed", "cli"]]);
    });

    test("dags mark-run success marks every unfinished instance success", async () => {
      const runId = await h.trigger("chain");
      await waitState("chain", runId, "first", "running", 1);
      assert.equal((await cli("dags", "mark-run", "chain", runId, "success")).code, 0);
      assert.equal((await h.run("chain", runId))?.state, "success");
      assert.deepEqual(await h.taskStates("chain", runId), { first: "success", second: "success", third: "success" });
      const bad = await cli("dags", "mark-run", "chain", runId, "done");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /state must be one of success, failed/);
    });

    test("tasks mark success on a failed task: failed tasks after it are cleared and run; --downstream marks them too", async () => {
      const runId = await h.trigger("markable");
      assert.deepEqual((await h.waitForRun("markable", runId)).tasks, { a: "failed", b: "upstream_failed", c: "upstream_failed" });
      const res = await cli("tasks", "mark", "markable", runId, "a", "success", "--json");
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), { marked: [{ taskId: "a", from: "failed", to: "success" }], resumed: ["b", "c"] });
      const done = await h.waitForRun("markable", runId);
      assert.equal(done.state, "success");
      assert.deepEqual(done.tasks, { a: "success", b: "success", c: "success" });
      assert.equal((await ti("markable", runId, "a")).try_number, 1, "marking does not run the task");

      const down = await cli("tasks", "mark", "markable", runId, "b", "failed", "--downstream");
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await h.taskStates("markable", runId), { a: "success", b: "failed", c: "failed" });
      const log = await events("markable", runId);
      assert.deepEqual(log.filter((e) => e.event.startsWith("mark_")).map((e) => [e.event, e.task_id, e.owner]), [
        ["mark_success", "a", "cli"],
        ["mark_failed", "b", "cli"],
        ["mark_failed", "c", "cli"],
      ]);
    });

    test("a running instance set skipped by someone else (as a run timeout does) has its try stopped", async () => {
      const runId = await h.trigger("external");
      await waitState("external", runId, "slow", "running", 1);
      await h.store.db.updateTable("task_instance").set({ state: "skipped", end_date: Date.now() }).where("dag_id", "=", "external").where("run_id", "=", runId).execute();
      await waitFor("the try to be stopped", async () => {
        const row = await h.store.db.selectFrom("task_try").select(["state", "end_date"]).where("dag_id", "=", "external").where("run_id", "=", runId).executeTakeFirst();
        return row?.end_date ? row : undefined;
      }, 30_000, 50);
      assert.match((await h.log("external", runId, "slow")) ?? "", /try stopped: the task instance was set to skipped while the try ran/);
      assert.equal((await ti("external", runId, "slow")).state, "skipped", "the stopped try's outcome does not overwrite the state");
      assert.equal((await h.waitForRun("external", runId)).state, "success");
    });

    test("dagrunTimeout: the skipped instance's running try is stopped by the executor", async () => {
      const runId = await h.trigger("run_timeout");
      const done = await h.waitForRun("run_timeout", runId);
      assert.equal(done.state, "failed");
      assert.deepEqual(done.tasks, { slow: "skipped" });
      const tryRow = await waitFor("the try to be stopped", async () => {
        const row = await h.store.db.selectFrom("task_try").select(["state", "end_date"]).where("dag_id", "=", "run_timeout").where("run_id", "=", runId).executeTakeFirst();
        return row?.end_date ? row : undefined;
      }, 30_000, 50);
      assert.equal(tryRow.state, "skipped");
      assert.match((await h.log("run_timeout", runId, "slow")) ?? "", /try stopped: the task instance was set to skipped while the try ran/);
    });

    test("callbacks do not fire for changes made by hand (mark a running task success, mark a running run failed)", async () => {
      const control = await h.trigger("by_engine");
      assert.equal((await h.waitForRun("by_engine", control)).state, "failed");
      await waitFor("the control's callbacks", async () => {
        const lines = fs.existsSync(callbackFile) ? fs.readFileSync(callbackFile, "utf8") : "";
        return lines.includes(`${control} boom failure`) && lines.includes(`${control} dag failure`) ? true : undefined;
      }, 30_000, 100);

      const marked = await h.trigger("by_hand", { logicalDate: Date.parse("2025-05-01T00:00:00Z") });
      await waitState("by_hand", marked, "slow", "running", 1);
      assert.equal((await cli("tasks", "mark", "by_hand", marked, "slow", "success")).code, 0);
      const failedRun = await h.trigger("by_hand", { logicalDate: Date.parse("2025-05-02T00:00:00Z") });
      await waitState("by_hand", failedRun, "slow", "running", 1);
      assert.equal((await cli("dags", "mark-run", "by_hand", failedRun, "failed")).code, 0);
      for (const runId of [marked, failedRun]) {
        await waitFor(`the try of ${runId} to be stopped`, async () => {
          const log = await h.log("by_hand", runId, "slow");
          return log?.includes("try stopped") ? true : undefined;
        }, 30_000, 100);
      }
      await new Promise((r) => setTimeout(r, 2_000)); // time for any callback to (wrongly) run
      const lines = fs.existsSync(callbackFile) ? fs.readFileSync(callbackFile, "utf8") : "";
      assert.doesNotMatch(lines, new RegExp(`${marked}|${failedRun}`), `no callback for hand changes, got:\n${lines}`);
      const requests = await h.store.db.selectFrom("callback_request").select("run_id").where("dag_id", "=", "by_hand").execute();
      assert.deepEqual(requests, []);
    });

    test("notes on runs and task instances are shown by list-runs and tasks states, and logged", async () => {
      const runId = await h.trigger("notes");
      await h.waitForRun("notes", runId);
      assert.equal((await cli("dags", "note", "notes", runId, "rerun after the vendor fix")).code, 0);
      assert.equal((await cli("tasks", "note", "notes", runId, "t", "checked by hand")).code, 0);
      const runs = JSON.parse((await cli("dags", "list-runs", "notes", "--json")).stdout) as Array<{ note: string }>;
      assert.equal(runs[0]?.note, "rerun after the vendor fix");
      const states = JSON.parse((await cli("tasks", "states", "notes", runId, "--json")).stdout) as Array<{ note: string }>;
      assert.equal(states[0]?.note, "checked by hand");
      const text = await cli("dags", "list-runs", "notes");
      assert.match(text.stdout, /rerun after the vendor fix/);
      const log = await events("notes", runId);
      assert.deepEqual(log.map((e) => [e.event, e.task_id, e.owner]), [["note", null, "cli"], ["note", "t", "cli"]]);
      const missing = await cli("tasks", "note", "notes", "no-such-run", "t", "x");
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /has no run 'no-such-run'/);
    });
  });
}
