/**
 * Trigger rule evaluation, after Airflow's trigger_rule_dep.py: given the states of a task's direct
 * upstream tasks, decide whether it may run now, must wait, or can never run (and which state the
 * scheduler then writes).
 */
import type { TriggerRule } from "../dag/types.js";
import type { TaskState } from "../store/schema.js";

export type RuleDecision = { kind: "run" } | { kind: "wait" } | { kind: "never"; state: "skipped" | "upstream_failed" };

const RUN: RuleDecision = { kind: "run" };
const WAIT: RuleDecision = { kind: "wait" };
const SKIP: RuleDecision = { kind: "never", state: "skipped" };
const UPSTREAM_FAILED: RuleDecision = { kind: "never", state: "upstream_failed" };

export interface UpstreamCounts {
  success: number;
  skipped: number;
  failed: number;
  upstreamFailed: number;
  removed: number;
  /** Number of direct upstream tasks. */
  total: number;
  /** Whether at least one upstream task is a setup task; only all_done_setup_success looks at it. */
  setupSucceeded?: boolean;
  hasSetup?: boolean;
}

export function countUpstream(states: ReadonlyArray<TaskState | null>): UpstreamCounts {
  const counts: UpstreamCounts = { success: 0, skipped: 0, failed: 0, upstreamFailed: 0, removed: 0, total: states.length };
  for (const state of states) {
    if (state === "success") counts.success++;
    else if (state === "skipped") counts.skipped++;
    else if (state === "failed") counts.failed++;
    else if (state === "upstream_failed") counts.upstreamFailed++;
    else if (state === "removed") counts.removed++;
  }
  return counts;
}

export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): RuleDecision {
  const S = c.success;
  const K = c.skipped;
  const FU = c.failed + c.upstreamFailed;
  const N = c.total;
  const D = S + K + FU + c.removed;
  const done = D >= N;
  if (N === 0 || rule === "always") return RUN;

  switch (rule) {
    case "all_success":
      if (S === N) return RUN;
      if (FU > 0) return UPSTREAM_FAILED;
      if (K > 0) return SKIP;
      return WAIT;
    case "all_failed":
      if (FU === N) return RUN;
      if (S + K > 0) return SKIP;
      return WAIT;
    case "all_done":
      return done ? RUN : WAIT;
    case "one_success":
      if (S > 0) return RUN;
      if (done && D === K) return SKIP;
      if (done) return UPSTREAM_FAILED;
      return WAIT;
    case "one_failed":
      if (FU > 0) return RUN;
      if (done) return SKIP;
      return WAIT;
    case "one_done":
      if (S + c.failed > 0) return RUN;
      if (done) return SKIP;
      return WAIT;
    case "none_failed":
      if (FU > 0) return UPSTREAM_FAILED;
      if (S + K === N) return RUN;
      return WAIT;
    case "none_failed_min_one_success":
      if (FU > 0) return UPSTREAM_FAILED;
      if (K === N) return SKIP;
      if (S + K === N) return RUN;
      return WAIT;
    case "none_skipped":
      if (K > 0) return SKIP;
      return done ? RUN : WAIT;
    case "all_skipped":
      if (S + FU > 0) return SKIP;
      if (K === N) return RUN;
      return WAIT;
    case "all_done_min_one_success": {
      // Skipped upstreams do not count as pending: the rule waits only for the non-skipped ones.
      if (!done) return WAIT;
      return S >= 1 ? RUN : UPSTREAM_FAILED;
    }
    case "all_done_setup_success":
      if (!done) return WAIT;
      if (c.hasSetup && !c.setupSucceeded) return UPSTREAM_FAILED;
      return RUN;
  }
}
