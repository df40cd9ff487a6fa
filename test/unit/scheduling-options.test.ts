/** Validation and serialization of the scheduling options: retry backoff, depends_on_past, weight rules, maxActiveTasks. */
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { dag, task } from "../../src/dag/builder.js";
import { clearRegistry } from "../../src/dag/registry.js";

beforeEach(() => clearRegistry());

describe("scheduling options", () => {
  const taskError = (options: Record<string, unknown>, message: RegExp) =>
    assert.throws(() => dag(`sched_${Math.random().toString(36).slice(2)}`, {}, () => void task("t", () => 1, options as never)), message);
  const dagError = (options: Record<string, unknown>, message: RegExp) =>
    assert.throws(() => dag(`sched_${Math.random().toString(36).slice(2)}`, options as never, () => {}), message);

  test("retry backoff, dependsOnPast and waitForDownstream take booleans; maxRetryDelay a positive duration or null", () => {
    taskError({ retryExponentialBackoff: "yes" }, /task 't': option retryExponentialBackoff must be true or false, got "yes"/);
    taskError({ dependsOnPast: 1 }, /option dependsOnPast must be true or false, got 1/);
    taskError({ waitForDownstream: null }, /option waitForDownstream must be true or false, got null/);
    taskError({ maxRetryDelay: 0 }, /option maxRetryDelay must be greater than 0/);
    taskError({ maxRetryDelay: "soon" }, /option maxRetryDelay/);
  });

  test("an unknown weight rule is rejected with the list of valid ones", () => {
    taskError({ weightRule: "sideways" }, /unknown weight rule "sideways"; valid weight rules: downstream, upstream, absolute/);
  });

  test("maxActiveTasks must be an integer >= 1", () => {
    dagError({ maxActiveTasks: 0 }, /option maxActiveTasks must be an integer >= 1, got 0/);
  });

  test("waitForDownstream implies dependsOnPast in the stored DAG", () => {
    const serialized = dag("sched_wfd", {}, () => void task("t", () => 1, { waitForDownstream: true, maxRetryDelay: "1h" })).serialize("/d.ts");
    assert.equal(serialized.tasks[0]!.dependsOnPast, true);
    assert.equal(serialized.tasks[0]!.maxRetryDelayMs, 3_600_000);
  });
});
