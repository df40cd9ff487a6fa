import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TriggerRule } from "../../src/dag/types.js";
import { countUpstream, evaluateTriggerRule } from "../../src/scheduler/trigger-rules.js";
import type { TaskState } from "../../src/store/schema.js";

const decide = (rule: TriggerRule, states: Array<TaskState | null>) => {
  const d = evaluateTriggerRule(rule, countUpstream(states));
  return d.kind === "never" ? d.state : d.kind;
};

describe("trigger rules (Airflow's trigger_rule_dep table)", () => {
  const cases: Array<[TriggerRule, Array<TaskState | null>, string]> = [
    ["all_success", ["success", "success"], "run"],
    ["all_success", ["success", "running"], "wait"],
    ["all_success", ["success", "failed"], "upstream_failed"],
    ["all_success", ["upstream_failed", "running"], "upstream_failed"],
    ["all_success", ["success", "skipped"], "skipped"],
    ["all_failed", ["failed", "upstream_failed"], "run"],
    ["all_failed", ["failed", "success"], "skipped"],
    ["all_failed", ["failed", null], "wait"],
    ["all_done", ["failed", "skipped", "success"], "run"],
    ["all_done", ["failed", "running"], "wait"],
    ["one_success", ["success", "running"], "run"],
    ["one_success", ["skipped", "skipped"], "skipped"],
    ["one_success", ["failed", "skipped"], "upstream_failed"],
    ["one_success", ["failed", null], "wait"],
    ["one_failed", ["failed", null], "run"],
    ["one_failed", ["success", "skipped"], "skipped"],
    ["one_done", ["failed", null], "run"],
    ["one_done", ["skipped", "upstream_failed"], "skipped"],
    ["none_failed", ["success", "skipped"], "run"],
    ["none_failed", ["success", "failed"], "upstream_failed"],
    ["none_failed", ["success", null], "wait"],
    ["none_failed_min_one_success", ["success", "skipped"], "run"],
    ["none_failed_min_one_success", ["skipped", "skipped"], "skipped"],
    ["none_failed_min_one_success", ["upstream_failed", "success"], "upstream_failed"],
    ["none_skipped", ["success", "failed"], "run"],
    ["none_skipped", ["skipped", null], "skipped"],
    ["none_skipped", ["success", null], "wait"],
    ["all_skipped", ["skipped", "skipped"], "run"],
    ["all_skipped", ["skipped", "success"], "skipped"],
    ["all_done_min_one_success", ["success", "failed"], "run"],
    ["all_done_min_one_success", ["failed", "skipped"], "upstream_failed"],
    ["all_done_min_one_success", ["success", null], "wait"],
    ["always", ["failed", null], "run"],
  ];
  for (const [rule, states, expected] of cases) {
    test(`${rule} with upstream [${states.map(String).join(", ")}] → ${expected}`, () => {
      assert.equal(decide(rule, states), expected);
    });
  }

  test("a task with no upstream runs at once whatever its rule", () => {
    assert.equal(decide("all_failed", []), "run");
    assert.equal(decide("one_success", []), "run");
  });
});
