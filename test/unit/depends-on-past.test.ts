import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SerializedDag, SerializedTask } from "../../src/dag/types.js";
import { pastDependencyMet } from "../../src/scheduler/depends-on-past.js";
import { evaluateRun } from "../../src/scheduler/task-evaluation.js";
import type { TaskState } from "../../src/store/schema.js";

function task(taskId: string, extra: Partial<SerializedTask> = {}): SerializedTask {
  return {
    taskId, kind: "function", retries: 0, retryDelayMs: 0, executionTimeoutMs: null, triggerRule: "all_success", queue: "default",
    pool: "default_pool", poolSlots: 1, priorityWeight: 1, env: {}, upstream: [], downstream: [], ...extra,
  };
}
const past = (states: Record<string, TaskState | null>) => new Map(Object.entries(states));

describe("pastDependencyMet", () => {
  const dop = task("a", { dependsOnPast: true, downstream: ["b"] });
  const wfd = task("a", { dependsOnPast: true, waitForDownstream: true, downstream: ["b"] });

  test("a task without dependsOnPast never waits", () => {
    assert.equal(pastDependencyMet(task("a"), past({ a: "failed" })), true);
  });

  test("the first run, and a task the previous run did not have, are never blocked", () => {
    assert.equal(pastDependencyMet(dop, null), true);
    assert.equal(pastDependencyMet(dop, past({ other: "failed" })), true);
  });

  test("waits until the previous instance is success or skipped", () => {
    for (const state of [null, "scheduled", "running", "failed", "upstream_failed", "up_for_retry"] as const) {
      assert.equal(pastDependencyMet(dop, past({ a: state })), false, String(state));
    }
    assert.equal(pastDependencyMet(dop, past({ a: "success", b: "failed" })), true);
    assert.equal(pastDependencyMet(dop, past({ a: "skipped" })), true);
  });

  test("waitForDownstream also waits for the previous instance's direct downstream tasks", () => {
    assert.equal(pastDependencyMet(wfd, past({ a: "success", b: "running" })), false);
    assert.equal(pastDependencyMet(wfd, past({ a: "success", b: "skipped" })), true);
  });

  test("in a run, a blocked task stays none while a rule that cannot pass still decides", () => {
    const dag: SerializedDag = {
      dagId: "d", fileloc: "/d.ts", schedule: null, start: null, end: null, timezone: "UTC", catchup: false, tags: [], description: null,
      maxActiveRuns: 16, params: {},
      tasks: [task("a", { dependsOnPast: true, downstream: ["b"] }), task("b", { upstream: ["a"], dependsOnPast: true })],
    };
    const blocked = evaluateRun(dag, [{ id: 1, task_id: "a", state: null, next_try_at: null }, { id: 2, task_id: "b", state: null, next_try_at: null }], 0, past({ a: "failed", b: "upstream_failed" }));
    assert.equal(blocked.fromNone.size, 0);
    const failedUpstream = evaluateRun(dag, [{ id: 1, task_id: "a", state: "failed", next_try_at: null }, { id: 2, task_id: "b", state: null, next_try_at: null }], 0, past({ a: "failed", b: "upstream_failed" }));
    assert.deepEqual([...failedUpstream.fromNone], [["upstream_failed", [2]]]);
  });
});
