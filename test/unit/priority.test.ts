import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SerializedDag, SerializedTask, WeightRule } from "../../src/dag/types.js";
import { priorityWeights } from "../../src/scheduler/priority.js";

/** a -> b -> d, a -> c -> d; weights a=1, b=2, c=3, d=4. */
function diamond(rule: WeightRule | undefined): SerializedDag {
  const edges: Array<[string, string]> = [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]];
  const weight: Record<string, number> = { a: 1, b: 2, c: 3, d: 4 };
  const tasks: SerializedTask[] = ["a", "b", "c", "d"].map((taskId) => ({
    taskId, kind: "function", retries: 0, retryDelayMs: 0, executionTimeoutMs: null, triggerRule: "all_success", queue: "default",
    pool: "default_pool", poolSlots: 1, priorityWeight: weight[taskId]!, ...(rule ? { weightRule: rule } : {}), env: {},
    upstream: edges.filter(([, d]) => d === taskId).map(([u]) => u),
    downstream: edges.filter(([u]) => u === taskId).map(([, d]) => d),
  }));
  return { dagId: "d", fileloc: "/d.ts", schedule: null, start: null, end: null, timezone: "UTC", catchup: false, tags: [], description: null, maxActiveRuns: 16, params: {}, tasks };
}

describe("priorityWeights", () => {
  test("downstream (the default): own weight plus every task after it, each counted once", () => {
    assert.deepEqual(Object.fromEntries(priorityWeights(diamond(undefined))), { a: 10, b: 6, c: 7, d: 4 });
    assert.deepEqual(Object.fromEntries(priorityWeights(diamond("downstream"))), { a: 10, b: 6, c: 7, d: 4 });
  });

  test("upstream: own weight plus every task before it", () => {
    assert.deepEqual(Object.fromEntries(priorityWeights(diamond("upstream"))), { a: 1, b: 3, c: 4, d: 10 });
  });

  test("absolute: own weight only", () => {
    assert.deepEqual(Object.fromEntries(priorityWeights(diamond("absolute"))), { a: 1, b: 2, c: 3, d: 4 });
  });
});
