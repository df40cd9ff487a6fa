/**
 * A short chaos run (chaos.ts) in CI, on PostgreSQL and MariaDB when their test URL is set: about
 * 75 s of random faults against three real controllers with the workload running, then zero
 * invariant violations, and proof that the faults really happened (several kinds, takeovers).
 * ALOFT_CHAOS_SECONDS changes the length, ALOFT_CHAOS_SEED replays a run.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatSummary, randomSeed, runChaos } from "./chaos.js";

const dialects = (
  [
    ["postgres", "ALOFT_TEST_POSTGRES_URL"],
    ["mysql", "ALOFT_TEST_MYSQL_URL"],
  ] as const
).filter(([, env]) => process.env[env]);
if (dialects.length === 0) {
  test("HA chaos run", { skip: "HA runs on PostgreSQL and MySQL/MariaDB only: set ALOFT_TEST_POSTGRES_URL / ALOFT_TEST_MYSQL_URL" }, () => {});
}

const seconds = Number(process.env.ALOFT_CHAOS_SECONDS ?? 75);

for (const [dialect] of dialects) {
  describe(`HA chaos on ${dialect}`, () => {
    test(`${seconds} s of random faults: no invariant violated, and the faults really happened`, { timeout: seconds * 1000 + 600_000 }, async () => {
      const seed = process.env.ALOFT_CHAOS_SEED ? Number(process.env.ALOFT_CHAOS_SEED) : randomSeed();
      const summary = await runChaos({ minutes: seconds / 60, seed, dialect, print: (line) => process.stdout.write(`# ${line}\n`) });
      const report = formatSummary(summary);
      process.stdout.write(report.split("\n").map((l) => `# ${l}`).join("\n") + "\n");

      assert.deepEqual(summary.violations, [], `invariants violated (seed ${seed}):\n${report}`);
      // The run meant something: faults of several kinds, the lead changed hands, work got done.
      const kinds = Object.entries(summary.faultsByKind).filter(([, n]) => n > 0);
      assert.ok(summary.faults.length >= 4, `only ${summary.faults.length} faults injected in ${seconds} s:\n${report}`);
      assert.ok(kinds.length >= 4, `faults of only ${kinds.length} kinds (${kinds.map(([k]) => k).join(", ")}):\n${report}`);
      assert.ok(summary.takeovers.length >= 2, `no takeover observed:\n${report}`);
      assert.ok(summary.runs.success >= 5, `only ${summary.runs.success} runs succeeded:\n${report}`);
    });
  });
}
