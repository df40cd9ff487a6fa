/**
 * Schedules and timetables, as Airflow 3 plans them: the `aloft dags next-runs` contract through the
 * real binary (no database), then run creation by the scheduler on every dialect (catchup,
 * maxActiveRuns, dagrunTimeout, @continuous, asset-triggered runs).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, waitFor, writeDags } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

interface NextRun {
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  run_after: string;
}

const DAGS = `import { dag, task } from "aloft";
const t = () => { task("t", () => 1); };
const presets = ["@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@midnight", "@annually"];
for (const p of presets) dag("preset_" + p.slice(1), { schedule: p, start: "2025-01-01" }, t);
dag("manual", { schedule: null }, t);
dag("once", { schedule: "@once", start: "2025-03-04T05:06:07Z" }, t);
dag("continuous", { schedule: "@continuous", start: "2025-01-01", maxActiveRuns: 1 }, t);
dag("every_trigger", { schedule: { every: "30m" }, start: "2025-02-01T00:00Z" }, t);
dag("every_trigger_catchup", { schedule: { every: "30m" }, start: "2025-02-01T00:00Z", catchup: true }, t);
dag("cron30_on", { schedule: "*/30 * * * *", start: "2025-02-01T00:00Z", timetable: "interval", catchup: true }, t);
dag("cron30_off", { schedule: "*/30 * * * *", start: "2025-02-01T00:00Z", timetable: "interval", catchup: false }, t);
dag("delta30_on", { schedule: { every: "30m" }, start: "2025-02-01T00:00Z", timetable: "interval", catchup: true }, t);
dag("delta30_off", { schedule: { every: "30m" }, start: "2025-02-01T00:00Z", timetable: "interval", catchup: false }, t);
dag("daily_trigger", { schedule: "0 0 * * *", start: "2025-01-01" }, t);
dag("daily_interval", { schedule: "0 0 * * *", start: "2025-01-01", timetable: "interval" }, t);
dag("berlin_0230", { schedule: "30 2 * * *", start: "2025-03-28", timezone: "Europe/Berlin", catchup: true }, t);
dag("berlin_daily_interval", { schedule: "@daily", start: "2025-03-29", timezone: "Europe/Berlin", catchup: true, timetable: "interval" }, t);
dag("ny_hourly", { schedule: "0 * * * *", start: "2025-01-01", timezone: "America/New_York", catchup: true }, t);
dag("leap", { schedule: "0 0 29 2 *", start: "2025-01-01", catchup: true }, t);
dag("leap_interval", { schedule: "0 0 29 2 *", start: "2024-01-01", catchup: true, timetable: "interval" }, t);
dag("monthly_interval", { schedule: "@monthly", start: "2024-01-15", catchup: true, timetable: "interval" }, t);
dag("bounded", { schedule: "@daily", start: "2025-01-01", end: "2025-01-03", catchup: true }, t);
dag("future_start", { schedule: "@daily", start: "2026-05-05T12:00Z" }, t);
`;

describe("aloft dags next-runs", { timeout: 300_000 }, () => {
  const file = path.join(writeDags({ "schedules.ts": DAGS }), "schedules.ts");

  async function nextRuns(dagId: string, now: string, count = 3, last?: [string, string]): Promise<NextRun[]> {
    const args = ["dags", "next-runs", file, "--dag", dagId, "--now", now, "--count", String(count), "--json"];
    if (last) args.push("--last-run-start", last[0], "--last-run-end", last[1]);
    const result = await runCli(args);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as NextRun[];
  }
  /** Runs whose logical date, data interval and run_after are all the fire time. */
  const fires = (...dates: string[]): NextRun[] =>
    dates.map((d) => ({ logical_date: d, data_interval_start: d, data_interval_end: d, run_after: d }));
  /** Runs covering [start, end), logical date start, run after end. */
  const intervals = (...pairs: Array<[string, string]>): NextRun[] =>
    pairs.map(([s, e]) => ({ logical_date: s, data_interval_start: s, data_interval_end: e, run_after: e }));
  const logicalDates = (runs: NextRun[]) => runs.map((r) => r.logical_date);

  test("prints exactly the four ISO fields, and a table without --json", async () => {
    const result = await runCli(["dags", "next-runs", file, "--dag", "preset_daily", "--now", "2025-05-15T10:20:00Z", "--count", "1", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout.trim(),
      '[{"logical_date":"2025-05-15T00:00:00.000Z","data_interval_start":"2025-05-15T00:00:00.000Z","data_interval_end":"2025-05-15T00:00:00.000Z","run_after":"2025-05-15T00:00:00.000Z"}]',
    );
    const table = await runCli(["dags", "next-runs", file, "--dag", "preset_daily", "--now", "2025-05-15T10:20:00Z", "--count", "2"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^logical_date\s+data_interval_start\s+data_interval_end\s+run_after\n/);
    assert.match(table.stdout, /2025-05-16T00:00:00.000Z/);
  });

  test("every preset fires at Airflow's cron times (trigger meaning, catchup off)", async () => {
    const now = "2025-05-15T10:20:00Z";
    const expected: Record<string, string[]> = {
      hourly: ["2025-05-15T10:00:00.000Z", "2025-05-15T11:00:00.000Z", "2025-05-15T12:00:00.000Z"],
      daily: ["2025-05-15T00:00:00.000Z", "2025-05-16T00:00:00.000Z", "2025-05-17T00:00:00.000Z"],
      midnight: ["2025-05-15T00:00:00.000Z", "2025-05-16T00:00:00.000Z", "2025-05-17T00:00:00.000Z"],
      weekly: ["2025-05-11T00:00:00.000Z", "2025-05-18T00:00:00.000Z", "2025-05-25T00:00:00.000Z"],
      monthly: ["2025-05-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z", "2025-07-01T00:00:00.000Z"],
      quarterly: ["2025-04-01T00:00:00.000Z", "2025-07-01T00:00:00.000Z", "2025-10-01T00:00:00.000Z"],
      yearly: ["2025-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
      annually: ["2025-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
    };
    for (const [preset, dates] of Object.entries(expected)) {
      assert.deepEqual(await nextRuns(`preset_${preset}`, now), fires(...dates), `@${preset}`);
    }
  });

  test("schedule null plans no runs", async () => {
    assert.deepEqual(await nextRuns("manual", "2025-05-15T10:20:00Z"), []);
  });

  test("@once runs once at start, and never after its run", async () => {
    assert.deepEqual(await nextRuns("once", "2027-01-01T00:00:00Z"), fires("2025-03-04T05:06:07.000Z"));
    assert.deepEqual(await nextRuns("once", "2027-01-01T00:00:00Z", 3, ["2025-03-04T05:06:07Z", "2025-03-04T05:06:07Z"]), []);
  });

  test("@continuous covers the time since the previous run ended", async () => {
    assert.deepEqual(await nextRuns("continuous", "2025-06-01T12:00:00Z"), intervals(["2025-01-01T00:00:00.000Z", "2025-06-01T12:00:00.000Z"]));
    assert.deepEqual(
      await nextRuns("continuous", "2025-06-01T12:00:00Z", 3, ["2025-01-01T00:00:00Z", "2025-06-01T11:59:00Z"]),
      intervals(["2025-06-01T11:59:00.000Z", "2025-06-01T12:00:00.000Z"]),
    );
  });

  test("{ every } with the trigger meaning: catchup off starts now, catchup on from start", async () => {
    assert.deepEqual(
      await nextRuns("every_trigger", "2025-02-01T01:05:00Z"),
      fires("2025-02-01T01:05:00.000Z", "2025-02-01T01:35:00.000Z", "2025-02-01T02:05:00.000Z"),
    );
    assert.deepEqual(
      await nextRuns("every_trigger_catchup", "2025-02-01T01:05:00Z"),
      fires("2025-02-01T00:00:00.000Z", "2025-02-01T00:30:00.000Z", "2025-02-01T01:00:00.000Z"),
    );
  });

  describe("the catchup table of Airflow's docs (enabled at 01:05 on Feb 1, data-interval meaning)", () => {
    const now = "2025-02-01T01:05:00Z";
    const onRows = intervals(
      ["2025-02-01T00:00:00.000Z", "2025-02-01T00:30:00.000Z"],
      ["2025-02-01T00:30:00.000Z", "2025-02-01T01:00:00.000Z"],
      ["2025-02-01T01:00:00.000Z", "2025-02-01T01:30:00.000Z"],
    );
    test("*/30 cron, catchup on: 00:00-00:30 and 00:30-01:00 are due, 01:00-01:30 waits", async () => {
      const runs = await nextRuns("cron30_on", now);
      assert.deepEqual(runs, onRows);
      assert.ok(runs[2]!.run_after > "2025-02-01T01:05:00.000Z");
    });
    test("*/30 cron, catchup off: 00:30-01:00", async () => {
      assert.deepEqual((await nextRuns("cron30_off", now, 1))[0], intervals(["2025-02-01T00:30:00.000Z", "2025-02-01T01:00:00.000Z"])[0]);
    });
    test("30-minute delta, catchup on: 00:00-00:30 and 00:30-01:00", async () => {
      assert.deepEqual(await nextRuns("delta30_on", now), onRows);
    });
    test("30-minute delta, catchup off: the interval ending now, 00:35-01:05", async () => {
      assert.deepEqual(
        await nextRuns("delta30_off", now, 2),
        intervals(["2025-02-01T00:35:00.000Z", "2025-02-01T01:05:00.000Z"], ["2025-02-01T01:05:00.000Z", "2025-02-01T01:35:00.000Z"]),
      );
    });
  });

  test("both meanings of one cron after the same last run", async () => {
    const now = "2025-03-10T08:00:00Z";
    assert.deepEqual(
      await nextRuns("daily_trigger", now, 2, ["2025-03-10T00:00:00Z", "2025-03-10T00:00:00Z"]),
      fires("2025-03-11T00:00:00.000Z", "2025-03-12T00:00:00.000Z"),
    );
    // The run that covered the 9th ended at midnight of the 10th; the next covers the 10th, after its end.
    assert.deepEqual(
      await nextRuns("daily_interval", now, 2, ["2025-03-09T00:00:00Z", "2025-03-10T00:00:00Z"]),
      intervals(["2025-03-10T00:00:00.000Z", "2025-03-11T00:00:00.000Z"], ["2025-03-11T00:00:00.000Z", "2025-03-12T00:00:00.000Z"]),
    );
  });

  test("DST spring forward in Europe/Berlin: 02:30 does not exist on Mar 30 and runs at 03:30 CEST, once", async () => {
    assert.deepEqual(
      logicalDates(await nextRuns("berlin_0230", "2030-01-01T00:00:00Z", 4)),
      ["2025-03-28T01:30:00.000Z", "2025-03-29T01:30:00.000Z", "2025-03-30T01:30:00.000Z", "2025-03-31T00:30:00.000Z"],
    );
  });

  test("DST fall back in Europe/Berlin: the repeated 02:30 of Oct 26 runs once", async () => {
    assert.deepEqual(
      logicalDates(await nextRuns("berlin_0230", "2030-01-01T00:00:00Z", 3, ["2025-10-25T00:30:00Z", "2025-10-25T00:30:00Z"])),
      ["2025-10-26T00:30:00.000Z", "2025-10-27T01:30:00.000Z", "2025-10-28T01:30:00.000Z"],
    );
  });

  test("DST with the interval meaning: the day of the spring change is a 23-hour interval", async () => {
    assert.deepEqual(
      await nextRuns("berlin_daily_interval", "2030-01-01T00:00:00Z", 2),
      intervals(["2025-03-28T23:00:00.000Z", "2025-03-29T23:00:00.000Z"], ["2025-03-29T23:00:00.000Z", "2025-03-30T22:00:00.000Z"]),
    );
  });

  test("DST in America/New_York: hourly runs skip the missing 02:00 and run every real hour of the fall back", async () => {
    assert.deepEqual(
      logicalDates(await nextRuns("ny_hourly", "2030-01-01T00:00:00Z", 4, ["2025-03-09T04:00:00Z", "2025-03-09T04:00:00Z"])),
      ["2025-03-09T05:00:00.000Z", "2025-03-09T06:00:00.000Z", "2025-03-09T07:00:00.000Z", "2025-03-09T08:00:00.000Z"],
    );
    assert.deepEqual(
      logicalDates(await nextRuns("ny_hourly", "2030-01-01T00:00:00Z", 4, ["2025-11-02T03:00:00Z", "2025-11-02T03:00:00Z"])),
      ["2025-11-02T04:00:00.000Z", "2025-11-02T05:00:00.000Z", "2025-11-02T06:00:00.000Z", "2025-11-02T07:00:00.000Z"],
    );
  });

  test("leap days: 0 0 29 2 * fires every leap year, and its intervals span leap day to leap day", async () => {
    assert.deepEqual(logicalDates(await nextRuns("leap", "2030-01-01T00:00:00Z", 2)), ["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z"]);
    assert.deepEqual(await nextRuns("leap_interval", "2030-01-01T00:00:00Z", 1), intervals(["2024-02-29T00:00:00.000Z", "2028-02-29T00:00:00.000Z"]));
  });

  test("a monthly interval across a leap February covers Feb 1 to Mar 1", async () => {
    assert.deepEqual(
      await nextRuns("monthly_interval", "2030-01-01T00:00:00Z", 2),
      intervals(["2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"], ["2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"]),
    );
  });

  test("start and end bound the runs (end inclusive; a future start waits)", async () => {
    assert.deepEqual(
      logicalDates(await nextRuns("bounded", "2030-01-01T00:00:00Z", 5)),
      ["2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", "2025-01-03T00:00:00.000Z"],
    );
    assert.deepEqual(logicalDates(await nextRuns("future_start", "2025-01-01T00:00:00Z", 1)), ["2026-05-06T00:00:00.000Z"]);
  });

  test("bad input: one line, exit 2", async () => {
    for (const [args, fragment] of [
      [["--dag", "nope"], "defines no DAG 'nope'"],
      [[], "defines several DAGs"],
      [["--dag", "preset_daily", "--now", "yesterday"], "--now 'yesterday' is not an ISO 8601 date"],
      [["--dag", "preset_daily", "--last-run-start", "2025-01-01T00:00:00Z"], "--last-run-start and --last-run-end go together"],
      [["--dag", "preset_daily", "--count", "0"], "--count must be an integer"],
    ] as const) {
      const result = await runCli(["dags", "next-runs", file, ...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.ok(result.stderr.includes(fragment), result.stderr);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  });

  test("load-time errors name the DAG: @continuous without maxActiveRuns 1, interval meaning without a time schedule", async () => {
    const dir = writeDags({
      "c.ts": `import { dag, task } from "aloft"; dag("c", { schedule: "@continuous", start: "2025-01-01" }, () => { task("t", () => 1); });`,
      "i.ts": `import { dag, task } from "aloft"; dag("i", { schedule: "@once", start: "2025-01-01", timetable: "interval" }, () => { task("t", () => 1); });`,
      "e.ts": `import { dag, task } from "aloft"; dag("e", { schedule: { every: "soon" }, start: "2025-01-01" }, () => { task("t", () => 1); });`,
    });
    for (const [name, fragment] of [
      ["c.ts", "DAG 'c': schedule \"@continuous\" needs maxActiveRuns: 1"],
      ["i.ts", "DAG 'i': option timetable \"interval\" needs a cron, preset or { every } schedule"],
      ["e.ts", "DAG 'e': option schedule { every }: invalid duration \"soon\""],
    ] as const) {
      const result = await runCli(["dags", "next-runs", path.join(dir, name), "--now", "2025-01-01T00:00:00Z"]);
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(fragment), result.stderr);
    }
  });
});

const HOUR = 3_600_000;

for (const dialect of testDialects()) {
  describe(`scheduler: ${dialect.dialect}`, { timeout: 300_000 }, () => {
    const t0 = Date.now();
    const thisHour = t0 - (t0 % HOUR);
    const start = new Date(thisHour - 3 * HOUR).toISOString();
    const h = new Harness(dialect, {
      "catchup.ts": `import { dag, task } from "aloft";
        const t = () => { task("t", () => 1); };
        dag("catchup_on", { schedule: "0 * * * *", start: "${start}", catchup: true }, t);
        dag("catchup_off", { schedule: "0 * * * *", start: "${start}", catchup: false }, t);
        dag("interval_off", { schedule: "0 * * * *", start: "${start}", catchup: false, timetable: "interval" }, t);
        dag("one_at_a_time", { schedule: "0 * * * *", start: "${start}", catchup: true, maxActiveRuns: 1 }, () => {
          task("slow", () => new Promise((resolve) => setTimeout(resolve, 300)));
        });
        dag("manual_interval", { schedule: "0 0 * * *", start: "2025-01-01", timetable: "interval", catchup: false }, t);`,
      "timeout.ts": `import { bash, dag } from "aloft";
        dag("timeout", { schedule: null, dagrunTimeout: "1s" }, () => {
          bash("sleeps", "sleep 4").then(bash("after", "true"));
        });`,
      "continuous.ts": `import { dag, task } from "aloft";
        dag("continuous", { schedule: "@continuous", start: "2025-01-01", maxActiveRuns: 1 }, () => { task("t", () => 1); });`,
      "assets.ts": `import { asset, dag, task } from "aloft";
        const a = asset("s3://lake/a"), b = asset("s3://lake/b"), c = asset("s3://lake/c");
        dag("produce_a", { schedule: null }, () => { task("w", () => 1, { outlets: [a] }); });
        dag("produce_b", { schedule: null }, () => { task("w", () => 1, { outlets: [b] }); });
        dag("produce_c", { schedule: null }, () => { task("w", () => 1, { outlets: [c] }); });
        dag("on_a", { schedule: a }, () => { task("t", () => 1); });
        dag("a_and_b_or_c", { schedule: a.and(b.or(c)) }, () => { task("t", () => 1); });`,
    }, { pausedAtCreation: true });
    before(() => h.start());
    after(() => h.stop());

    const runsOf = (dagId: string) =>
      h.store.db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).orderBy("logical_date").orderBy("id").execute();
    // Every DAG starts paused; each test unpauses the ones it is about.
    const setPaused = async (paused: number, ...dagIds: string[]) => {
      await h.store.db.updateTable("dag").set({ is_paused: paused }).where("dag_id", "in", dagIds).execute();
      await h.reparse();
    };
    const pause = (dagId: string) => setPaused(1, dagId);
    const unpause = (...dagIds: string[]) => setPaused(0, ...dagIds);

    test("catchup on creates a run for every hour since start; off only from the latest hour", async () => {
      await unpause("catchup_on", "catchup_off");
      const on = await waitFor("4 catchup runs", async () => {
        const runs = await runsOf("catchup_on");
        return runs.length >= 4 ? runs : undefined;
      });
      assert.deepEqual(
        on.slice(0, 4).map((r) => [r.run_type, r.logical_date, r.data_interval_start, r.data_interval_end]),
        [0, 1, 2, 3].map((i) => ["scheduled", thisHour - (3 - i) * HOUR, thisHour - (3 - i) * HOUR, thisHour - (3 - i) * HOUR]),
      );
      const off = await waitFor("a run without catchup", async () => {
        const runs = await runsOf("catchup_off");
        return runs.length >= 1 ? runs : undefined;
      });
      assert.ok(off.every((r) => r.logical_date >= thisHour), "no run before the latest hour");
      assert.equal(off[0]!.logical_date % HOUR, 0);
    });

    test("the interval meaning creates runs covering the last complete hour, logical date at its start", async () => {
      await unpause("interval_off");
      const [run] = await waitFor("an interval run", async () => {
        const runs = await runsOf("interval_off");
        return runs.length >= 1 ? runs : undefined;
      });
      assert.equal(run!.data_interval_end - run!.data_interval_start, HOUR);
      assert.equal(run!.logical_date, run!.data_interval_start);
      assert.equal(run!.run_after, run!.data_interval_end);
      assert.ok(run!.data_interval_end >= thisHour && run!.data_interval_end <= Date.now());
    });

    test("a manual run of an interval DAG gets the last complete interval before its logical date", async () => {
      await unpause("manual_interval");
      const runId = await h.trigger("manual_interval", { logicalDate: Date.parse("2025-03-25T01:00:00Z") });
      const run = (await h.run("manual_interval", runId))!;
      assert.equal(run.logical_date, Date.parse("2025-03-25T01:00:00Z"));
      assert.equal(run.data_interval_start, Date.parse("2025-03-24T00:00:00Z"));
      assert.equal(run.data_interval_end, Date.parse("2025-03-25T00:00:00Z"));
    });

    test("maxActiveRuns 1: catchup runs run one after the other, oldest first", async () => {
      await unpause("one_at_a_time");
      const runs = await waitFor("4 finished runs", async () => {
        const all = await runsOf("one_at_a_time");
        const done = all.filter((r) => r.state === "success");
        return done.length >= 4 ? done : undefined;
      }, 60_000);
      await pause("one_at_a_time");
      const byStart = [...runs].sort((a, b) => a.start_date! - b.start_date!);
      assert.deepEqual(byStart.map((r) => r.logical_date), runs.map((r) => r.logical_date), "started oldest first");
      for (let i = 1; i < byStart.length; i++) assert.ok(byStart[i]!.start_date! >= byStart[i - 1]!.end_date!, "runs overlapped");
    });

    test("dagrunTimeout: a run running too long is failed and its unfinished tasks skipped", async () => {
      await unpause("timeout");
      const runId = await h.trigger("timeout");
      const { state, tasks } = await h.waitForRun("timeout", runId, 30_000);
      assert.equal(state, "failed");
      assert.deepEqual(tasks, { after: "skipped", sleeps: "skipped" });
    });

    test("@continuous starts a new run as soon as the previous one finished, each covering the time since", async () => {
      await unpause("continuous");
      const runs = await waitFor("3 continuous runs", async () => {
        const done = (await runsOf("continuous")).filter((r) => r.state === "success");
        return done.length >= 3 ? done : undefined;
      }, 60_000);
      await pause("continuous");
      for (let i = 1; i < runs.length; i++) {
        assert.equal(runs[i]!.data_interval_start, runs[i - 1]!.data_interval_end, "intervals are contiguous");
        assert.ok(runs[i]!.start_date! >= runs[i - 1]!.end_date!, "one run at a time");
      }
      assert.equal(runs[0]!.data_interval_start, Date.parse("2025-01-01T00:00:00Z"));
    });

    test("asset-triggered runs: one per update of a single asset; an and/or condition waits until satisfied", async () => {
      await unpause("produce_a", "produce_b", "produce_c", "on_a", "a_and_b_or_c");
      const ran = async (dagId: string) => h.waitForRun(dagId, await h.trigger(dagId));
      await ran("produce_a");
      // on_a and a_and_b_or_c are evaluated in the same pass: once on_a has its run, the other was considered.
      const [onA] = await waitFor("on_a to run", async () => {
        const runs = await runsOf("on_a");
        return runs.length === 1 ? runs : undefined;
      });
      assert.equal(onA!.run_type, "asset_triggered");
      assert.deepEqual(await runsOf("a_and_b_or_c"), [], "a alone does not satisfy a & (b | c)");

      await ran("produce_c");
      const [both] = await waitFor("a_and_b_or_c to run", async () => {
        const runs = await runsOf("a_and_b_or_c");
        return runs.length === 1 ? runs : undefined;
      });
      assert.equal(both!.run_type, "asset_triggered");
      assert.equal((await h.waitForRun("a_and_b_or_c", both!.run_id)).state, "success");
      const consumed = await h.store.db
        .selectFrom("dag_run_asset_event as l")
        .innerJoin("asset_event as e", "e.id", "l.event_id")
        .select(["e.uri", "e.source_dag_id"])
        .where("l.dag_run_id", "=", both!.id)
        .orderBy("e.uri")
        .execute();
      assert.deepEqual(consumed, [
        { uri: "s3://lake/a", source_dag_id: "produce_a" },
        { uri: "s3://lake/c", source_dag_id: "produce_c" },
      ]);
      // Those events were consumed: only b and then a again satisfy the condition once more.
      await ran("produce_b");
      await ran("produce_a");
      await waitFor("on_a's second run", async () => ((await runsOf("on_a")).length === 2 ? true : undefined));
      const afterB = await runsOf("a_and_b_or_c");
      assert.equal(afterB.length, 2, "a then b satisfy a & (b | c) once more");
    });

    test("aloft assets list and events show the assets, their events and the DAGs scheduled on them", async () => {
      const flags = ["--database-url", h.config.databaseUrl, "--home", h.home];
      const listed = await runCli(["assets", "list", "--json", ...flags]);
      assert.equal(listed.code, 0, listed.stderr);
      const assets = (JSON.parse(listed.stdout) as Array<{ uri: string; events: number; scheduled_dags: string[] }>).map(({ uri, events, scheduled_dags }) => ({ uri, events, scheduled_dags }));
      assert.deepEqual(assets, [
        { uri: "s3://lake/a", events: 2, scheduled_dags: ["a_and_b_or_c", "on_a"] },
        { uri: "s3://lake/b", events: 1, scheduled_dags: ["a_and_b_or_c"] },
        { uri: "s3://lake/c", events: 1, scheduled_dags: ["a_and_b_or_c"] },
      ]);
      const events = await runCli(["assets", "events", "s3://lake/c", "--json", ...flags]);
      assert.equal(events.code, 0, events.stderr);
      assert.deepEqual(
        (JSON.parse(events.stdout) as Array<{ source_dag_id: string; source_task_id: string }>).map((e) => [e.source_dag_id, e.source_task_id]),
        [["produce_c", "w"]],
      );
      const unknown = await runCli(["assets", "events", "s3://nope", ...flags]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /asset 's3:\/\/nope' is not known/);
    });
  });
}
