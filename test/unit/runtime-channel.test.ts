/**
 * The runtime channel: a try's calls go from its runner through the pool to whatever RuntimeService
 * the executor provides (the DB-backed one in production, a remote worker's later), bound to the try
 * the pool knows runs there; replies and errors come back to the task.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import type { TryRequest } from "../../src/executor/protocol.js";
import { RunnerPool } from "../../src/executor/runner-pool.js";
import { silentLogger } from "../../src/logging.js";
import { distModule } from "../../src/paths.js";
import type { RuntimeService } from "../../src/runtime/service.js";
import { tempDir } from "../helpers/aloft.js";

const dir = tempDir("channel");
const modulePath = path.join(dir, "dag.mjs");
fs.writeFileSync(
  modulePath,
  `import { dag, task } from ${JSON.stringify(pathToFileURL(distModule("index.js")).href)};
   dag("channel", {}, () => {
     task("talk", async (ctx) => {
       await ctx.xcom.push("k", { a: 1 });
       return { v: await ctx.variables.get("greeting"), pulled: await ctx.xcom.pull({ taskId: "other" }) };
     });
     task("refused", (ctx) => ctx.connections.get("db"));
   });`,
);

let n = 0;
function request(taskId: string): TryRequest {
  n++;
  return {
    tiId: 100 + n, dagRunId: 1, dagId: "channel", taskId, runId: "r", mapIndex: -1, tryNumber: 1, maxTries: 0, retryDelayMs: 0,
    kind: "function", dagVersionId: 1, moduleHash: "0".repeat(64), modulePath, env: {}, executionTimeoutMs: null,
    logicalDate: 0, dataIntervalStart: 0, dataIntervalEnd: 0, params: {}, conf: {},
  };
}

/** A service kept in memory: what a remote worker's would look like to the pool. */
class MemoryRuntime implements RuntimeService {
  readonly calls: Array<{ tiId: number; method: string; args: Record<string, unknown> }> = [];
  async call(req: TryRequest, method: string, args: Record<string, unknown>): Promise<unknown> {
    this.calls.push({ tiId: req.tiId, method, args });
    if (method === "variable.get") return { value: "hello" };
    if (method === "xcom.pull") return [1, 2];
    if (method === "connection.get") throw new Error("connections are not offered here");
    return null;
  }
}

describe("runtime channel", () => {
  const service = new MemoryRuntime();
  const logs = new Map<number, string>();
  const pool = new RunnerPool({
    maxRunners: 1,
    warm: 1,
    logger: silentLogger,
    runtime: service,
    onLog: (req, text) => logs.set(req.tiId, (logs.get(req.tiId) ?? "") + text),
  });
  const bare = new RunnerPool({ maxRunners: 1, warm: 0, logger: silentLogger, onLog: (req, text) => logs.set(req.tiId, (logs.get(req.tiId) ?? "") + text) });
  after(async () => {
    await pool.close();
    await bare.close();
  });

  test("calls reach the service bound to the running try, and replies reach the task", async () => {
    const req = request("talk");
    const outcome = await pool.run(req);
    assert.equal(outcome.state, "success", outcome.error);
    assert.deepEqual(JSON.parse(outcome.resultJson!), { v: "hello", pulled: [1, 2] });
    assert.deepEqual(service.calls, [
      { tiId: req.tiId, method: "xcom.push", args: { key: "k", json: '{"a":1}' } },
      { tiId: req.tiId, method: "variable.get", args: { key: "greeting" } },
      { tiId: req.tiId, method: "xcom.pull", args: { taskId: "other" } },
    ]);
  });

  test("a service error fails the task with the service's message", async () => {
    const req = request("refused");
    const outcome = await pool.run(req);
    assert.equal(outcome.state, "failed");
    assert.match(logs.get(req.tiId)!, /connections are not offered here/);
  });

  test("a pool without a runtime service answers calls with a clear error", async () => {
    const req = request("talk");
    const outcome = await bare.run(req);
    assert.equal(outcome.state, "failed");
    assert.match(logs.get(req.tiId)!, /this executor offers no runtime service/);
  });
});
