/** `aloft worker` refuses bad setups with a clear message; `aloft workers list` shows a standalone's local executor. */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { runCli, Standalone, tempDir, waitFor, writeDags } from "../helpers/aloft.js";

describe("aloft worker", () => {
  test("without a broker URL it says how to give one", async () => {
    const home = tempDir("home");
    const result = await runCli(["worker"], { ALOFT_HOME: home, ALOFT_EXECUTOR: "" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /aloft worker needs a broker, but executor is 'local': pass --broker redis:\/\/HOST:6379 or amqp:\/\//);
  });

  test("a queue name outside the safe alphabet is refused", async () => {
    const home = tempDir("home");
    const result = await runCli(["worker", "--broker", "redis://127.0.0.1:1", "--queues", "good,not good"], { ALOFT_HOME: home });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--queues: queue name 'not good' is not valid; use 1 to 200 letters, digits/);
  });

  test("an executor that is neither local nor a broker URL is named in the error", async () => {
    const home = tempDir("home");
    const result = await runCli(["worker", "--broker", "kafka://user:hunter2@host:9092"], { ALOFT_HOME: home });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /executor is 'kafka:\/\/user:\*\*\*@host:9092'/);
    assert.doesNotMatch(result.stderr, /hunter2/);
  });
});

describe("aloft workers list", () => {
  test("shows the local executor of a running standalone, and the queue depths", async () => {
    const home = tempDir("db");
    const aloft = new Standalone(`sqlite://${path.join(home, "aloft.db")}`, writeDags({ "noop.ts": `import { dag, bash } from "aloft"; dag("noop", { schedule: null }, () => { bash("t", "true"); });` }));
    await aloft.start();
    try {
      const listed = await waitFor("the local worker row", async () => {
        const out = await aloft.cliJson<{ workers: Array<{ name: string; kind: string; state: string; pid: number; queues: string }>; queues: unknown[] }>(["workers", "list"]);
        return out.workers.length > 0 ? out : undefined;
      });
      assert.equal(listed.workers[0]!.kind, "local");
      assert.equal(listed.workers[0]!.state, "running");
      assert.equal(listed.workers[0]!.pid, aloft.pid);
      const text = await aloft.cli(["workers", "list"]);
      assert.match(text.stdout, /^name +state +host +pid +queues +concurrency +running +done +failed +last_heartbeat/m);
      assert.match(text.stdout, /^queue +queued_tries +waiting_in_broker +workers/m);
    } finally {
      await aloft.stop();
      aloft.cleanup();
    }
  });
});
