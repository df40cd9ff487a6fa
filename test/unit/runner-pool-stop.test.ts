/** Stopping a try on request (a clear or a mark by hand): waiting or running, its process tree goes. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import type { TryRequest } from "../../src/executor/protocol.js";
import { RunnerPool } from "../../src/executor/runner-pool.js";
import { silentLogger } from "../../src/logging.js";
import { isAlive, tempDir, waitFor } from "../helpers/aloft.js";

const dir = tempDir("pool-stop");
let n = 0;
function bashTry(command: string): TryRequest {
  n++;
  return {
    tiId: n, dagRunId: 1, dagId: "stop", taskId: `t${n}`, runId: "r", mapIndex: -1, tryNumber: 1, maxTries: 0, retryDelayMs: 0,
    kind: "bash", command, dagVersionId: 1, moduleHash: "0".repeat(64), env: {}, executionTimeoutMs: null,
    logicalDate: 0, dataIntervalStart: 0, dataIntervalEnd: 0, params: {}, conf: {},
  };
}

describe("RunnerPool.stop", () => {
  const logs = new Map<number, string>();
  const pool = new RunnerPool({
    maxRunners: 1,
    warm: 1,
    logger: silentLogger,
    killGraceMs: 500,
    onLog: (request, text) => logs.set(request.tiId, (logs.get(request.tiId) ?? "") + text),
  });
  after(() => pool.close());

  test("a running try's process tree is killed; a waiting try never starts; the reason is in each log", async () => {
    const pidFile = path.join(dir, "sleep.pid");
    const running = bashTry(`sleep 30 & echo $! > ${pidFile}; wait`);
    const waiting = bashTry("echo should-not-run");
    const runningOutcome = pool.run(running);
    const waitingOutcome = pool.run(waiting);
    const sleepPid = await waitFor("the sleep to start", async () => {
      const text = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8").trim() : "";
      return text ? Number(text) : undefined;
    }, 20_000, 50);

    assert.equal(pool.stop(waiting.tiId, "cleared by hand"), true);
    assert.deepEqual(await waitingOutcome, { state: "failed", error: "cleared by hand" });
    assert.match(logs.get(waiting.tiId)!, /WARN try stopped before it started: cleared by hand/);

    assert.equal(pool.stop(running.tiId, "marked success by hand"), true);
    assert.deepEqual(await runningOutcome, { state: "failed", error: "marked success by hand" });
    assert.match(logs.get(running.tiId)!, /WARN try stopped: marked success by hand/);
    await waitFor("the sleep to be killed", async () => (isAlive(sleepPid) ? undefined : true), 10_000, 50);

    assert.equal(pool.stop(12345, "unknown"), false);
    assert.equal((await pool.run(bashTry("true"))).state, "success", "the pool goes on with a new runner");
  });
});
