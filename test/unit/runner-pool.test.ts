/** The warm runner pool: tries reuse started processes; a crashing try costs only its own runner. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import type { TryRequest } from "../../src/executor/protocol.js";
import { RunnerPool } from "../../src/executor/runner-pool.js";
import { silentLogger } from "../../src/logging.js";
import { distModule } from "../../src/paths.js";
import { tempDir } from "../helpers/aloft.js";

const dir = tempDir("pool");
const modulePath = path.join(dir, "dag.mjs");
fs.writeFileSync(
  modulePath,
  `import { dag, task } from ${JSON.stringify(pathToFileURL(distModule("index.js")).href)};
   dag("pool", {}, () => {
     task("pid", () => process.pid);
     task("crash", () => process.exit(3));
     task("print", () => { console.log("printed by the task"); return "done"; });
   });`,
);

let n = 0;
function request(taskId: string, kind: "function" | "bash" = "function", command?: string): TryRequest {
  n++;
  return {
    tiId: n, dagRunId: 1, dagId: "pool", taskId, runId: "r", mapIndex: -1, tryNumber: 1, maxTries: 0, retryDelayMs: 0,
    kind, command, dagVersionId: 1, moduleHash: "0".repeat(64), modulePath, env: {}, executionTimeoutMs: null,
    logicalDate: 0, dataIntervalStart: 0, dataIntervalEnd: 0, params: {}, conf: {},
  };
}

describe("RunnerPool", () => {
  const logs = new Map<number, string>();
  const pool = new RunnerPool({
    maxRunners: 1,
    warm: 1,
    logger: silentLogger,
    onLog: (request, text) => logs.set(request.tiId, (logs.get(request.tiId) ?? "") + text),
  });
  after(() => pool.close());

  test("successive tries run in the same warm process", async () => {
    const pids = [];
    for (let i = 0; i < 3; i++) {
      const outcome = await pool.run(request("pid"));
      assert.equal(outcome.state, "success");
      pids.push(JSON.parse(outcome.resultJson!) as number);
    }
    assert.equal(new Set(pids).size, 1);
    assert.notEqual(pids[0], process.pid);
  });

  test("a try that kills its runner fails with the reason; the next try gets a new runner", async () => {
    const crash = await pool.run(request("crash"));
    assert.equal(crash.state, "failed");
    assert.match(crash.error!, /runner process running the try exited with code 3/);
    assert.match(logs.get(n)!, /starting try 1 of pool\.crash[\s\S]*ERROR try ended: failed: .*exited with code 3/);
    const next = await pool.run(request("pid"));
    assert.equal(next.state, "success");
  });

  test("what a function task prints goes to its try's log", async () => {
    const outcome = await pool.run(request("print"));
    assert.deepEqual(outcome, { state: "success", resultJson: '"done"' });
    assert.match(logs.get(n)!, /starting try[\s\S]*printed by the task\n[\s\S]*try ended: success/);
  });
});
