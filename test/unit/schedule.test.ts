import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  PRESET_NAMES,
  SCHEDULE_PRESETS,
  nextDagRun,
  resolveCron,
  validateSchedule,
  type PlannedRun,
} from "../../src/timetable/schedule.js";
import { ScheduleError } from "../../src/errors.js";
import type { SerializedDag } from "../../src/dag/types.js";

type ScheduleFields = Pick<SerializedDag, "schedule" | "start" | "end" | "timezone" | "catchup">;

function schedule(overrides: Partial<ScheduleFields>): ScheduleFields {
  return { schedule: "0 0 * * *", start: "2025-01-01T00:00:00.000Z", end: null, timezone: "UTC", catchup: true, ...overrides };
}

const at = (iso: string) => new Date(iso);

/** The logical date of the next run, as an ISO string, or null. */
function next(dag: ScheduleFields, last: string | null, now: string): string | null {
  return nextDagRun(dag, last === null ? null : at(last), at(now))?.logicalDate.toISOString() ?? null;
}

/** Logical dates of the runs a scheduler with catchup would create one after the other. */
function runs(dag: ScheduleFields, count: number, now = "2030-01-01T00:00:00Z"): string[] {
  const dates: string[] = [];
  let last: Date | null = null;
  for (let i = 0; i < count; i++) {
    const run: PlannedRun | null = nextDagRun(dag, last, at(now));
    if (run === null) break;
    dates.push(run.logicalDate.toISOString());
    last = run.logicalDate;
  }
  return dates;
}

function assertScheduleError(schedule: string | null, timezone: string, ...fragments: string[]): void {
  assert.throws(
    () => validateSchedule(schedule, timezone),
    (error: unknown) => {
      assert.ok(error instanceof ScheduleError, `expected a ScheduleError, got ${String(error)}`);
      for (const fragment of fragments) assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
      return true;
    },
  );
}

describe("presets", () => {
  test("expand to Airflow's cron expressions", () => {
    assert.deepEqual(SCHEDULE_PRESETS, {
      "@hourly": "0 * * * *",
      "@daily": "0 0 * * *",
      "@midnight": "0 0 * * *",
      "@weekly": "0 0 * * 0",
      "@monthly": "0 0 1 * *",
      "@quarterly": "0 0 1 */3 *",
      "@yearly": "0 0 1 1 *",
      "@annually": "0 0 1 1 *",
    });
    assert.deepEqual(PRESET_NAMES, [...Object.keys(SCHEDULE_PRESETS), "@once", "@continuous"]);
  });

  test("are accepted, and resolve to their cron (null for @once and no schedule)", () => {
    for (const preset of PRESET_NAMES) assert.doesNotThrow(() => validateSchedule(preset, "UTC"), preset);
    assert.equal(resolveCron("@daily"), "0 0 * * *");
    assert.equal(resolveCron(" 5 4 * * * "), "5 4 * * *");
    assert.equal(resolveCron(" @weekly "), "0 0 * * 0");
    assert.equal(resolveCron("@once"), null);
    assert.equal(resolveCron(" @once"), null);
    assert.equal(resolveCron(null), null);
  });

  test("fire at their times", () => {
    const first = (preset: string, start: string) => next(schedule({ schedule: preset, start }), null, "2030-01-01T00:00:00Z");
    assert.equal(first("@hourly", "2025-01-01T10:30:00.000Z"), "2025-01-01T11:00:00.000Z");
    assert.equal(first("@daily", "2025-01-01T10:30:00.000Z"), "2025-01-02T00:00:00.000Z");
    assert.equal(first("@weekly", "2025-01-01T00:00:00.000Z"), "2025-01-05T00:00:00.000Z"); // the next Sunday
    assert.equal(first("@monthly", "2025-01-15T00:00:00.000Z"), "2025-02-01T00:00:00.000Z");
    assert.equal(first("@quarterly", "2025-02-15T00:00:00.000Z"), "2025-04-01T00:00:00.000Z");
    assert.equal(first("@yearly", "2025-06-01T00:00:00.000Z"), "2026-01-01T00:00:00.000Z");
  });
});

describe("validateSchedule", () => {
  test("accepts cron expressions and null", () => {
    for (const cron of ["* * * * *", "*/15 9-17 * * MON-FRI", "0 0 L * *", "0 12 * * 7", "0 0 * * THU"]) {
      assert.doesNotThrow(() => validateSchedule(cron, "UTC"), cron);
    }
    assert.doesNotThrow(() => validateSchedule(null, "Europe/Paris"));
  });

  test("names the expected fields when the count is wrong", () => {
    assertScheduleError("0 0 * *", "UTC", '"0 0 * *"', "4 fields", "cron needs 5: minute hour day-of-month month day-of-week");
    assertScheduleError("0 0 0 * * *", "UTC", "6 fields", "cron needs 5");
  });

  test("names the field that is out of range and its range", () => {
    assertScheduleError("60 * * * *", "UTC", "minute field \"60\"", "0-59");
    assertScheduleError("0 24 * * *", "UTC", "hour field \"24\"", "0-23");
    assertScheduleError("0 0 32 * *", "UTC", "day-of-month field \"32\"", "1-31");
    assertScheduleError("0 0 * 13 *", "UTC", "month field \"13\"", "1-12");
    assertScheduleError("0 0 * * 8", "UTC", "day-of-week field \"8\"", "0-7");
    assertScheduleError("0 0 * * 1-9", "UTC", "day-of-week field \"1-9\"");
    assertScheduleError("abc 0 * * *", "UTC", "minute field \"abc\"");
  });

  test("rejects fields that are valid alone but impossible together", () => {
    assertScheduleError("0 0 30 2 *", "UTC", 'invalid cron expression "0 0 30 2 *"');
  });

  test("rejects hashed values, which would differ on every parse", () => {
    assertScheduleError("H * * * *", "UTC", "minute field", '"H"');
  });

  test("lists the presets for an unknown one", () => {
    assertScheduleError("@daly", "UTC", 'unknown schedule preset "@daly"', "@daily", "@hourly", "@once");
  });

  test("accepts @continuous", () => {
    validateSchedule("@continuous", "UTC");
  });

  test("rejects an empty schedule", () => {
    assertScheduleError("  ", "UTC", "schedule is empty");
  });

  test("rejects unknown timezones, with or without a schedule", () => {
    assertScheduleError("0 0 * * *", "Mars/Olympus_Mons", 'unknown timezone "Mars/Olympus_Mons"');
    assertScheduleError(null, "Not/AZone", 'unknown timezone "Not/AZone"');
    assertScheduleError(null, "", "unknown timezone");
  });
});

describe("nextDagRun", () => {
  test("returns null without a schedule", () => {
    assert.equal(nextDagRun(schedule({ schedule: null }), null, at("2025-06-01T00:00:00Z")), null);
  });

  test("plans a run whose data interval and runAfter equal the logical date", () => {
    const run = nextDagRun(schedule({ start: "2025-01-01T06:00:00.000Z" }), null, at("2025-06-01T00:00:00Z"));
    assert.deepEqual(run, {
      logicalDate: at("2025-01-02T00:00:00Z"),
      dataIntervalStart: at("2025-01-02T00:00:00Z"),
      dataIntervalEnd: at("2025-01-02T00:00:00Z"),
      runAfter: at("2025-01-02T00:00:00Z"),
    });
  });

  describe("@once", () => {
    const once = schedule({ schedule: "@once", start: "2025-03-04T05:06:07.000Z" });

    test("runs once at start, even long after it and without catchup", () => {
      assert.equal(next(once, null, "2025-01-01T00:00:00Z"), "2025-03-04T05:06:07.000Z");
      assert.equal(next({ ...once, catchup: false }, null, "2027-01-01T00:00:00Z"), "2025-03-04T05:06:07.000Z");
    });

    test("does not run again", () => {
      assert.equal(next(once, "2025-03-04T05:06:07.000Z", "2027-01-01T00:00:00Z"), null);
    });
  });

  describe("start and end", () => {
    test("the first run is the first fire at or after start", () => {
      assert.equal(next(schedule({ start: "2025-01-01T00:00:00.000Z" }), null, "2025-06-01T00:00:00Z"), "2025-01-01T00:00:00.000Z");
      assert.equal(next(schedule({ start: "2025-01-01T00:00:01.000Z" }), null, "2025-06-01T00:00:00Z"), "2025-01-02T00:00:00.000Z");
    });

    test("a run may be planned in the future", () => {
      assert.equal(next(schedule({ start: "2026-05-05T12:00:00.000Z" }), null, "2025-01-01T00:00:00Z"), "2026-05-06T00:00:00.000Z");
    });

    test("end is inclusive and stops the schedule", () => {
      const bounded = schedule({ end: "2025-01-03T00:00:00.000Z" });
      assert.deepEqual(runs(bounded, 10), ["2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", "2025-01-03T00:00:00.000Z"]);
      assert.equal(next(schedule({ end: "2025-01-02T23:59:00.000Z" }), "2025-01-02T00:00:00.000Z", "2026-01-01T00:00:00Z"), null);
    });

    test("a last run before start does not pull runs before start", () => {
      assert.equal(next(schedule({ start: "2025-05-01T00:00:00.000Z" }), "2025-01-01T00:00:00.000Z", "2025-05-10T00:00:00Z"), "2025-05-01T00:00:00.000Z");
    });
  });

  describe("catchup", () => {
    test("on: every missed fire is planned in turn, however old", () => {
      assert.deepEqual(runs(schedule({ catchup: true }), 3, "2025-06-01T12:00:00Z"), [
        "2025-01-01T00:00:00.000Z",
        "2025-01-02T00:00:00.000Z",
        "2025-01-03T00:00:00.000Z",
      ]);
      assert.equal(next(schedule({ catchup: true }), "2025-03-03T00:00:00.000Z", "2025-06-01T12:00:00Z"), "2025-03-04T00:00:00.000Z");
    });

    test("off: missed fires collapse into the latest fire at or before now", () => {
      const dag = schedule({ catchup: false });
      assert.equal(next(dag, null, "2025-06-01T12:00:00Z"), "2025-06-01T00:00:00.000Z");
      assert.equal(next(dag, "2025-03-03T00:00:00.000Z", "2025-06-01T12:00:00Z"), "2025-06-01T00:00:00.000Z");
      // now exactly on a fire time counts that fire
      assert.equal(next(dag, null, "2025-06-01T00:00:00Z"), "2025-06-01T00:00:00.000Z");
    });

    test("off: after the latest fire has run, the next one is in the future", () => {
      assert.equal(next(schedule({ catchup: false }), "2025-06-01T00:00:00.000Z", "2025-06-01T12:00:00Z"), "2025-06-02T00:00:00.000Z");
    });

    test("off: with no fire since start yet, the next future fire", () => {
      const dag = schedule({ catchup: false, start: "2025-06-01T06:00:00.000Z" });
      assert.equal(next(dag, null, "2025-06-01T12:00:00Z"), "2025-06-02T00:00:00.000Z");
      assert.equal(next(schedule({ catchup: false, start: "2025-09-01T00:00:00.000Z" }), null, "2025-06-01T12:00:00Z"), "2025-09-01T00:00:00.000Z");
    });

    test("off: the latest fire after end means no run", () => {
      assert.equal(next(schedule({ catchup: false, end: "2025-02-01T00:00:00.000Z" }), null, "2025-06-01T12:00:00Z"), null);
    });
  });

  describe("timezones", () => {
    test("cron is evaluated in the DAG's timezone", () => {
      const tokyo = schedule({ timezone: "Asia/Tokyo", start: "2025-01-01T00:00:00.000Z" });
      // Midnight in Tokyo (UTC+9) is 15:00 UTC the day before.
      assert.deepEqual(runs(tokyo, 2), ["2025-01-01T15:00:00.000Z", "2025-01-02T15:00:00.000Z"]);
    });

    test("spring forward (America/New_York, 2025-03-09): 02:00 does not exist and runs at 03:00 EDT", () => {
      const dag = schedule({ schedule: "0 2 * * *", timezone: "America/New_York", start: "2025-03-07T00:00:00.000Z" });
      assert.deepEqual(runs(dag, 4), [
        "2025-03-07T07:00:00.000Z", // 02:00 EST
        "2025-03-08T07:00:00.000Z",
        "2025-03-09T07:00:00.000Z", // 03:00 EDT
        "2025-03-10T06:00:00.000Z", // 02:00 EDT
      ]);
      assert.equal(next({ ...dag, catchup: false }, null, "2025-03-09T12:00:00Z"), "2025-03-09T07:00:00.000Z");
    });

    test("spring forward without catchup finds the shifted fire that cron-parser's prev() skips", () => {
      const dag = schedule({ schedule: "30 2 * * *", timezone: "America/New_York", start: "2025-03-01T00:00:00.000Z", catchup: false });
      assert.equal(next(dag, null, "2025-03-09T12:00:00Z"), "2025-03-09T07:30:00.000Z");
      assert.equal(next(dag, "2025-03-09T07:30:00.000Z", "2025-03-09T12:00:00Z"), "2025-03-10T06:30:00.000Z");
    });

    test("fall back (America/New_York, 2025-11-02): 02:00 EST follows 02:00 EDT of the day before", () => {
      const dag = schedule({ schedule: "0 2 * * *", timezone: "America/New_York", start: "2025-10-31T00:00:00.000Z" });
      assert.deepEqual(runs(dag, 4), [
        "2025-10-31T06:00:00.000Z", // 02:00 EDT
        "2025-11-01T06:00:00.000Z",
        "2025-11-02T07:00:00.000Z", // 02:00 EST
        "2025-11-03T07:00:00.000Z",
      ]);
      assert.equal(next({ ...dag, catchup: false }, null, "2025-11-02T12:00:00Z"), "2025-11-02T07:00:00.000Z");
    });

    test("fall back: a time in the repeated hour runs once", () => {
      const dag = schedule({ schedule: "30 1 * * *", timezone: "America/New_York", start: "2025-11-01T00:00:00.000Z" });
      assert.deepEqual(runs(dag, 3), ["2025-11-01T05:30:00.000Z", "2025-11-02T05:30:00.000Z", "2025-11-03T06:30:00.000Z"]);
      // After both 01:30s have passed, catchup off picks the one forward iteration produces, and no second one follows.
      const noCatchup = { ...dag, catchup: false };
      assert.equal(next(noCatchup, null, "2025-11-02T07:00:00Z"), "2025-11-02T05:30:00.000Z");
      assert.equal(next(noCatchup, "2025-11-02T05:30:00.000Z", "2025-11-02T07:00:00Z"), "2025-11-03T06:30:00.000Z");
    });

    test("hourly through fall back runs every real hour", () => {
      const dag = schedule({ schedule: "0 * * * *", timezone: "America/New_York", start: "2025-11-02T04:00:00.000Z" });
      assert.deepEqual(runs(dag, 4), [
        "2025-11-02T04:00:00.000Z", // 00:00 EDT
        "2025-11-02T05:00:00.000Z", // 01:00 EDT
        "2025-11-02T06:00:00.000Z", // 01:00 EST
        "2025-11-02T07:00:00.000Z", // 02:00 EST
      ]);
    });

    test("a year of runs across both changes strictly increases", () => {
      for (const cron of ["0 2 * * *", "30 1 * * *", "*/20 1-3 * * *", "0 0 * * 0"]) {
        const dates = runs(schedule({ schedule: cron, timezone: "America/New_York", start: "2025-01-01T00:00:00.000Z", end: "2025-12-31T00:00:00.000Z" }), 5000);
        assert.ok(dates.length > 50, cron);
        for (let i = 1; i < dates.length; i++) assert.ok(dates[i]! > dates[i - 1]!, `${cron}: ${dates[i - 1]} then ${dates[i]}`);
      }
    });
  });
});
