/**
 * Sensors on every dialect: poke mode keeps the try and checks every pokeInterval; reschedule mode
 * frees its slot between checks (state up_for_reschedule) without using up retries; the timeout
 * counts from the first check and fails without retry, or skips with softFail; the value returned
 * with done is the XCom return value; a bash sensor is done when its command exits 0.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, tempDir, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

function dags(dir: string): Record<string, string> {
  const file = (name: string) => JSON.stringify(path.join(dir, name));
  return {
    "sensors.ts": `
import fs from "node:fs";
import { dag, task, sensor } from "aloft";
const exists = (f: string) => fs.existsSync(f);
dag("poke", {}, () => {
  const wait = sensor("wait", () => (exists(${file("poke.flag")}) ? { done: true, value: { rows: 42 } } : false), {
    pokeInterval: "1s", timeout: "30s",
  });
  wait.then(task("after", () => "ok"));
});
dag("poke_timeout", {}, () => {
  sensor("wait", () => false, { pokeInterval: "1s", timeout: "2s", retries: 2, retryDelay: "1s" }).then(task("after", () => "ok"));
});
dag("soft_fail", {}, () => {
  sensor("wait", () => false, { pokeInterval: "1s", timeout: "2s", softFail: true }).then(task("after", () => "ok"));
});
dag("reschedule", {}, () => {
  sensor("wait", () => {
    fs.appendFileSync(${file("checks.log")}, "check\\n");
    return exists(${file("reschedule.flag")});
  }, { mode: "reschedule", pokeInterval: "1s", timeout: "60s" }).then(task("after", () => "ok"));
});
dag("reschedule_timeout", {}, () => {
  sensor("wait", () => false, { mode: "reschedule", pokeInterval: "1s", timeout: "3s", retries: 3, retryDelay: "1s" });
});
dag("reschedule_clear", {}, () => {
  sensor("wait", () => exists(${file("clear.flag")}), { mode: "reschedule", pokeInterval: "1s", timeout: "3s" });
});
dag("bash_sensor", {}, () => {
  sensor("wait", "test -f " + ${file("bash.flag")}, { pokeInterval: "1s", timeout: "30s" });
});
`,
  };
}

async function tiRow(h: Harness, dagId: string, runId: string, taskId: string) {
  return h.store.db
    .selectFrom("task_instance")
    .selectAll()
    .where("dag_id", "=", dagId)
    .where("run_id", "=", runId)
    .where("task_id", "=", taskId)
    .executeTakeFirstOrThrow();
}

for (const dialect of testDialects()) {
  describe(dialect.dialect, () => {
    const dir = tempDir("sensor-files");
    const h = new Harness(dialect, dags(dir));
    before(() => h.start());
    after(async () => {
      await h.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("poke mode: checks again within one try until done; the value returned with done is the XCom return value", async () => {
      const runId = await h.trigger("poke");
      // Not done yet: the try stays running and logs each check that was not done.
      await waitFor("a check that was not done", async () => ((await h.log("poke", runId, "wait").catch(() => null)) ?? "").includes("not done") || undefined);
      const running = await tiRow(h, "poke", runId, "wait");
      assert.equal(running.state, "running");
      fs.writeFileSync(path.join(dir, "poke.flag"), "");
      const { state, tasks } = await h.waitForRun("poke", runId);
      assert.equal(state, "success");
      assert.deepEqual(tasks, { after: "success", wait: "success" });
      const ti = await tiRow(h, "poke", runId, "wait");
      assert.equal(ti.try_number, 1);
      const xcom = await h.store.db.selectFrom("xcom").select("value").where("ti_id", "=", ti.id).where("key", "=", "return_value").executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(xcom.value), { rows: 42 });
    });

    test("timeout: the sensor fails without using its retries; downstream is upstream_failed", async () => {
      const runId = await h.trigger("poke_timeout");
      const { state, tasks } = await h.waitForRun("poke_timeout", runId);
      assert.equal(state, "failed");
      assert.deepEqual(tasks, { after: "upstream_failed", wait: "failed" });
      assert.equal((await tiRow(h, "poke_timeout", runId, "wait")).try_number, 1);
      assert.match((await h.log("poke_timeout", runId, "wait")) ?? "", /sensor timed out/);
    });

    test("softFail: on timeout the sensor is skipped and the skip cascades", async () => {
      const runId = await h.trigger("soft_fail");
      const { state, tasks } = await h.waitForRun("soft_fail", runId);
      assert.equal(state, "success");
      assert.deepEqual(tasks, { after: "skipped", wait: "skipped" });
    });

    test("reschedule mode: between checks the instance is up_for_reschedule with no try running; reschedules do not use up retries", async () => {
      const runId = await h.trigger("reschedule");
      const waiting = await waitFor("the sensor to be up_for_reschedule", async () => {
        const ti = await tiRow(h, "reschedule", runId, "wait").catch(() => undefined);
        return ti?.state === "up_for_reschedule" ? ti : undefined;
      });
      assert.ok(waiting.next_try_at !== null, "it has the time it may check again");
      const runningTries = await h.store.db.selectFrom("task_try").select("state").where("ti_id", "=", waiting.id).where("state", "=", "running").execute();
      assert.equal(runningTries.length, 0, "no try holds a slot while the sensor waits");
      await waitFor("a second check", async () => (fs.readFileSync(path.join(dir, "checks.log"), "utf8").split("\n").length > 2 || undefined));
      fs.writeFileSync(path.join(dir, "reschedule.flag"), "");
      const { state, tasks } = await h.waitForRun("reschedule", runId);
      assert.equal(state, "success");
      assert.deepEqual(tasks, { after: "success", wait: "success" });
      const ti = await tiRow(h, "reschedule", runId, "wait");
      assert.ok(ti.try_number >= 3, `each check is a try of its own (try ${ti.try_number}), yet the sensor with retries 0 did not fail`);
      const reschedules = await h.store.db.selectFrom("task_reschedule").selectAll().where("ti_id", "=", ti.id).execute();
      assert.equal(reschedules.length, ti.try_number - 1);
    });

    test("reschedule mode: the timeout counts from the first check across reschedules and fails without retry", async () => {
      const runId = await h.trigger("reschedule_timeout");
      const { state, tasks } = await h.waitForRun("reschedule_timeout", runId);
      assert.equal(state, "failed");
      assert.equal(tasks.wait, "failed");
      const ti = await tiRow(h, "reschedule_timeout", runId, "wait");
      const reschedules = await h.store.db.selectFrom("task_reschedule").select("id").where("ti_id", "=", ti.id).execute();
      // Each check is a short try of its own, so failing by the timeout means it counted from the first check.
      assert.ok(reschedules.length >= 1, `checked several times before timing out (${reschedules.length} reschedules)`);
      assert.equal(ti.try_number, reschedules.length + 1, "no retry after the timeout");
      assert.match((await h.log("reschedule_timeout", runId, "wait", ti.try_number)) ?? "", /sensor timed out/);
    });

    test("clearing a reschedule sensor that timed out starts its timeout again from its next check", async () => {
      const runId = await h.trigger("reschedule_clear");
      assert.equal((await h.waitForRun("reschedule_clear", runId)).tasks.wait, "failed");
      const cleared = await runCli(["tasks", "clear", "reschedule_clear", runId, "wait", "--yes"], {
        ALOFT_DATABASE_URL: h.config.databaseUrl,
        ALOFT_HOME: h.home,
      });
      assert.equal(cleared.code, 0, cleared.stderr);
      // Counting from the checks before the clear, the first check after it would time out at once.
      await waitFor("a check after the clear that was not done", async () => ((await tiRow(h, "reschedule_clear", runId, "wait")).state === "up_for_reschedule") || undefined, 30_000, 50);
      fs.writeFileSync(path.join(dir, "clear.flag"), "");
      const { state, tasks } = await h.waitForRun("reschedule_clear", runId);
      assert.deepEqual([state, tasks.wait], ["success", "success"]);
    });

    test("a bash sensor is done when its command exits 0", async () => {
      const runId = await h.trigger("bash_sensor");
      await waitFor("a check that was not done", async () => ((await h.log("bash_sensor", runId, "wait").catch(() => null)) ?? "").includes("not done") || undefined);
      fs.writeFileSync(path.join(dir, "bash.flag"), "");
      const { state, tasks } = await h.waitForRun("bash_sensor", runId);
      assert.equal(state, "success");
      assert.deepEqual(tasks, { wait: "success" });
    });
  });
}
