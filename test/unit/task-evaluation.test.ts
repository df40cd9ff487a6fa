import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SerializedDag, SerializedTask, TriggerRule } from "../../src/dag/types.js";
import { downstreamWeights, evaluateRun, type TiStateRow } from "../../src/scheduler/task-evaluation.js";
import type { TaskState } from "../../src/store/schema.js";

function makeDag(edges: Array<[string, string]>, ids: string[], rules: Record<string, TriggerRule> = {}): SerializedDag {
  const tasks: SerializedTask[] = ids.map((taskId) => ({
    taskId,
    kind: "function",
    retries: 0,
    retryDelayMs: 0,
    executionTimeoutMs: null,
    triggerRule: rules[taskId] ?? "all_success",
    queue: "default",
    pool: "default_pool",
    poolSlots: 1,
    priorityWeight: 1,
    env: {},
    upstream: edges.filter(([, d]) => d === taskId).map(([u]) => u),
    downstream: edges.filter(([u]) => u === taskId).map(([, d]) => d),
  }));
  return { dagId: "d", fileloc: "/d.ts", schedule: null, start: null, end: null, timezone: "UTC", catchup: false, tags: [], description: null, maxActiveRuns: 16, params: {}, tasks };
}

const rows = (states: Record<string, TaskState | null>, nextTryAt: Record<string, number> = {}): TiStateRow[] =>
  Object.entries(states).map(([task_id, state], i) => ({ id: i + 1, task_id, state, next_try_at: nextTryAt[task_id] ?? null }));

describe("evaluateRun", () => {
  const chain = makeDag([["a", "b"], ["b", "c"]], ["a", "b", "c"]);

  test("schedules the roots of a new run and nothing else", () => {
    const e = evaluateRun(chain, rows({ a: null, b: null, c: null }), 0);
    assert.deepEqual([...e.fromNone], [["scheduled", [1]]]);
    assert.equal(e.runState, undefined);
  });

  test("an upstream failure cascades to the end of the chain in one pass and fails the run", () => {
    const e = evaluateRun(chain, rows({ a: "failed", b: null, c: null }), 0);
    assert.deepEqual([...e.fromNone], [["upstream_failed", [2, 3]]]);
    assert.equal(e.runState, "failed");
  });

  test("a skip cascades through all_success and the run succeeds", () => {
    const e = evaluateRun(chain, rows({ a: "skipped", b: null, c: null }), 0);
    assert.deepEqual([...e.fromNone], [["skipped", [2, 3]]]);
    assert.equal(e.runState, "success");
  });

  test("a retry is scheduled again only once its delay is over", () => {
    assert.deepEqual(evaluateRun(chain, rows({ a: "up_for_retry", b: null, c: null }, { a: 1000 }), 999).retriesDue, []);
    assert.deepEqual(evaluateRun(chain, rows({ a: "up_for_retry", b: null, c: null }, { a: 1000 }), 1000).retriesDue, [1]);
  });

  test("the run fails when a leaf failed, even if another leaf succeeded", () => {
    const dag = makeDag([["a", "b"], ["a", "c"]], ["a", "b", "c"]);
    assert.equal(evaluateRun(dag, rows({ a: "success", b: "failed", c: "success" }), 0).runState, "failed");
  });

  test("a non-leaf failure that an all_done leaf absorbs leaves the run successful", () => {
    const dag = makeDag([["a", "b"]], ["a", "b"], { b: "all_done" });
    const e = evaluateRun(dag, rows({ a: "failed", b: null }), 0);
    assert.deepEqual([...e.fromNone], [["scheduled", [2]]]);
    assert.equal(evaluateRun(dag, rows({ a: "failed", b: "success" }), 0).runState, "success");
  });
});

describe("downstreamWeights", () => {
  test("a task weighs itself plus everything downstream of it, counted once", () => {
    const dag = makeDag([["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]], ["a", "b", "c", "d"]);
    assert.deepEqual(Object.fromEntries(downstreamWeights(dag)), { a: 4, b: 2, c: 2, d: 1 });
  });
});

describe("evaluateRun with a changed DAG", () => {
  test("a task instance whose task is gone from the DAG is removed, and the run can finish", () => {
    const dag = makeDag([], ["a"]);
    const e = evaluateRun(dag, rows({ a: "success", gone: null }), 0);
    assert.deepEqual([...e.fromNone], [["removed", [2]]]);
    assert.equal(e.runState, "success");
  });
});
