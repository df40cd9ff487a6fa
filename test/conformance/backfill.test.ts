/**
 * Backfill through the real CLI, against an engine (Harness) on the same database, on every dialect:
 * runs created up front for the schedule within [from, to], started within the backfill's max active
 * runs, oldest or newest first; reprocess none/failed/completed; dry run; pause and cancel; errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runCli, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

interface Progress {
  id: number;
  dag_id: string;
  state: string;
  total: number;
  success: number;
  failed: number;
  running: number;
  queued: number;
}

for (const dialect of testDialects()) {
  describe(`aloft backfill: ${dialect.dialect}`, { timeout: 300_000 }, () => {
    // Starts in 2030: the DAGs get no scheduled runs, only the backfilled ones.
    const h = new Harness(dialect, {
      "b.ts": `import { dag, task } from "aloft";
        dag("daily", { schedule: "@daily", start: "2030-01-01" }, () => { task("t", () => 1); });
        dag("slow", { schedule: "@daily", start: "2030-01-01" }, () => {
          task("t", () => new Promise((resolve) => setTimeout(resolve, 200)));
        });
        dag("flaky", { schedule: "@daily", start: "2030-01-01", timetable: "interval" }, () => {
          task("t", (ctx) => { if (ctx.ds === "2025-01-02") throw new Error("bad day"); });
        });
        dag("sleepy", { schedule: "@daily", start: "2030-01-01" }, () => {
          task("t", () => new Promise((resolve) => setTimeout(resolve, 1500)));
        });
        dag("manual_only", { schedule: null }, () => { task("t", () => 1); });`,
    });
    before(() => h.start());
    after(() => h.stop());

    const cli = (...args: string[]) => runCli([...args, "--database-url", h.config.databaseUrl, "--home", h.home]);
    const runsOf = (dagId: string) =>
      h.store.db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).orderBy("logical_date").execute();
    async function list(dagId?: string): Promise<Progress[]> {
      const result = await cli("backfill", "list", ...(dagId ? [dagId] : []), "--json");
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as Progress[];
    }
    const day = (d: number) => Date.parse(`2025-01-0${d}T00:00:00Z`);

    test("--dry-run prints the logical dates of the schedule in the range and changes nothing", async () => {
      const result = await cli("backfill", "create", "daily", "--from", "2025-01-01", "--to", "2025-01-03T12:00:00Z", "--dry-run", "--json");
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout) as { dry_run: boolean; runs: Array<{ logical_date: string; action: string }> };
      assert.deepEqual(
        out.runs.map((r) => [r.logical_date, r.action]),
        [
          ["2025-01-01T00:00:00.000Z", "create"],
          ["2025-01-02T00:00:00.000Z", "create"],
          ["2025-01-03T00:00:00.000Z", "create"],
        ],
      );
      assert.deepEqual(await runsOf("daily"), []);
      assert.deepEqual(await list(), []);
    });

    test("create follows progress until every run finished", async () => {
      const result = await cli("backfill", "create", "daily", "--from", "2025-01-01", "--to", "2025-01-03");
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const lines = result.stdout.trim().split("\n");
      assert.match(lines[0]!, /^created backfill \d+ of daily: 3 runs queued, 0 dates skipped$/);
      assert.match(lines.at(-1)!, /: 3\/3 runs done \(3 success, 0 failed, 0 running, 0 queued\)$/);
      const runs = await runsOf("daily");
      assert.deepEqual(
        runs.map((r) => [r.run_type, r.state, r.logical_date, r.run_id]),
        [1, 2, 3].map((d) => ["backfill", "success", day(d), `backfill__${new Date(day(d)).toISOString()}`]),
      );
      const [progress] = await list("daily");
      assert.equal(progress!.state, "completed");
      assert.deepEqual([progress!.total, progress!.success, progress!.failed], [3, 3, 0]);
    });

    test("--max-active-runs 1 --run-backwards runs one at a time, newest first", async () => {
      const result = await cli("backfill", "create", "slow", "--from", "2025-01-01", "--to", "2025-01-04", "--max-active-runs", "1", "--run-backwards", "--detach");
      assert.equal(result.code, 0, result.stderr);
      const runs = await waitFor("4 finished runs", async () => {
        const all = await runsOf("slow");
        return all.length === 4 && all.every((r) => r.state === "success") ? all : undefined;
      });
      const byStart = [...runs].sort((a, b) => a.start_date! - b.start_date!);
      assert.deepEqual(byStart.map((r) => r.logical_date), [day(4), day(3), day(2), day(1)]);
      for (let i = 1; i < byStart.length; i++) assert.ok(byStart[i]!.start_date! >= byStart[i - 1]!.end_date!, "runs overlapped");
    });

    test("reprocess: none skips dates that have runs, failed re-runs the failed one, completed re-runs all", async () => {
      const first = await cli("backfill", "create", "flaky", "--from", "2025-01-01", "--to", "2025-01-03");
      assert.equal(first.code, 1, "a backfill with a failed run exits 1");
      const runs = await runsOf("flaky");
      assert.deepEqual(runs.map((r) => r.state), ["success", "failed", "success"]);
      // The interval meaning: each run covers its day.
      assert.deepEqual(runs.map((r) => [r.data_interval_start, r.data_interval_end]), [1, 2, 3].map((d) => [day(d), day(d + 1)]));

      const none = await cli("backfill", "create", "flaky", "--from", "2025-01-01", "--to", "2025-01-03", "--dry-run", "--json");
      assert.deepEqual((JSON.parse(none.stdout) as { runs: Array<{ action: string }> }).runs.map((r) => r.action), ["skip", "skip", "skip"]);

      const failed = await cli("backfill", "create", "flaky", "--from", "2025-01-01", "--to", "2025-01-03", "--reprocess", "failed");
      assert.match(failed.stdout, /1 runs queued, 2 dates skipped/);
      const [failedBackfill] = await list("flaky");
      const afterFailed = await runsOf("flaky");
      assert.deepEqual(afterFailed.map((r) => r.backfill_id === null ? null : Number(r.backfill_id) === failedBackfill!.id), [false, true, false]);
      assert.equal(afterFailed.length, 3, "the existing run is re-run, not duplicated");

      const completed = await cli("backfill", "create", "flaky", "--from", "2025-01-01", "--to", "2025-01-03", "--reprocess", "completed");
      assert.match(completed.stdout, /3 runs queued, 0 dates skipped/);
      const [completedBackfill] = await list("flaky");
      assert.deepEqual([completedBackfill!.total, completedBackfill!.success, completedBackfill!.failed], [3, 2, 1]);
      assert.deepEqual((await runsOf("flaky")).map((r) => Number(r.backfill_id)), [completedBackfill!.id, completedBackfill!.id, completedBackfill!.id]);
    });

    test("pause stops starting runs; cancel marks the queued ones failed", async () => {
      const created = await cli("backfill", "create", "sleepy", "--from", "2025-01-01", "--to", "2025-01-06", "--max-active-runs", "1", "--detach", "--json");
      assert.equal(created.code, 0, created.stderr);
      const { id } = JSON.parse(created.stdout) as { id: number };
      assert.equal((await cli("backfill", "pause", String(id))).code, 0);
      const paused = await waitFor("the running run to finish", async () => {
        const [p] = (await list("sleepy")).filter((b) => b.id === id);
        return p && p.running === 0 ? p : undefined;
      });
      assert.equal(paused.state, "paused");
      assert.ok(paused.queued >= 3, `runs were started while paused: ${JSON.stringify(paused)}`);

      const cancel = await cli("backfill", "cancel", String(id));
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.match(cancel.stdout, new RegExp(`cancelled backfill ${id} of sleepy: ${paused.queued} queued runs marked failed`));
      const [cancelled] = (await list("sleepy")).filter((b) => b.id === id);
      assert.equal(cancelled!.state, "cancelled");
      assert.equal(cancelled!.queued, 0);
      assert.equal(cancelled!.failed, paused.queued);
      const again = await cli("backfill", "unpause", String(id));
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already been cancelled/);
    });

    test("bad input: one line naming the problem, exit 2, nothing created", async () => {
      const before = (await list()).length;
      for (const [args, fragment] of [
        [["nope", "--from", "2025-01-01", "--to", "2025-01-02"], "DAG 'nope' does not exist"],
        [["daily", "--from", "2025-01-05", "--to", "2025-01-02"], "is after --to"],
        [["manual_only", "--from", "2025-01-01", "--to", "2025-01-02"], "has no time-based schedule"],
        [["daily", "--from", "2025-01-01", "--to", "2025-01-02", "--reprocess", "all"], "--reprocess must be one of none, failed, completed"],
        [["daily", "--from", "2025-01-01", "--to", "2025-01-02", "--max-active-runs", "0"], "--max-active-runs must be an integer >= 1"],
        [["daily", "--to", "2025-01-02"], "needs --from ISO and --to ISO"],
        [["daily", "--from", "2025-01-01", "--to", "2025-01-02", "--conf", "[1]"], "--conf must be a JSON object"],
      ] as const) {
        const result = await cli("backfill", "create", ...args);
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stdout}${result.stderr}`);
        assert.ok(result.stderr.includes(fragment), result.stderr);
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      }
      const missing = await cli("backfill", "pause", "999");
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /backfill 999 does not exist/);
      assert.equal((await list()).length, before);
    });
  });
}
