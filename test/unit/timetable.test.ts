import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { allOf, anyOf, asset } from "../../src/dag/assets.js";
import { dag, task } from "../../src/dag/builder.js";
import { clearRegistry } from "../../src/dag/registry.js";
import { DagDefinitionError } from "../../src/errors.js";
import { conditionSatisfied, conditionUris, describeCondition } from "../../src/timetable/asset-condition.js";
import { manualDataInterval, nextRun, runsBetween, type Timetable } from "../../src/timetable/timetable.js";

const at = (iso: string) => new Date(iso);
const iso = (d: Date) => d.toISOString();

function tt(overrides: Partial<Timetable>): Timetable {
  return { spec: { kind: "cron", cron: "0 0 * * *" }, meaning: "trigger", start: at("2025-01-01T00:00:00Z"), end: null, timezone: "UTC", catchup: true, ...overrides };
}

describe("nextRun", () => {
  test("interval meaning: a run covers [start, end), its logical date is start and it runs after end", () => {
    const run = nextRun(tt({ meaning: "interval" }), null, at("2025-06-01T00:00:00Z"))!;
    assert.deepEqual([run.logicalDate, run.dataIntervalStart, run.dataIntervalEnd, run.runAfter].map(iso), [
      "2025-01-01T00:00:00.000Z",
      "2025-01-01T00:00:00.000Z",
      "2025-01-02T00:00:00.000Z",
      "2025-01-02T00:00:00.000Z",
    ]);
  });

  test("interval meaning, catchup off, now exactly on a boundary: the interval ending now", () => {
    const run = nextRun(tt({ meaning: "interval", catchup: false }), null, at("2025-03-10T00:00:00Z"))!;
    assert.equal(iso(run.dataIntervalStart), "2025-03-09T00:00:00.000Z");
    assert.equal(iso(run.dataIntervalEnd), "2025-03-10T00:00:00.000Z");
  });

  test("interval meaning, catchup off, a last run long ago: skips to the latest complete interval", () => {
    const last = { start: at("2025-01-01T00:00:00Z"), end: at("2025-01-02T00:00:00Z") };
    const run = nextRun(tt({ meaning: "interval", catchup: false }), last, at("2025-03-10T12:00:00Z"))!;
    assert.equal(iso(run.dataIntervalStart), "2025-03-09T00:00:00.000Z");
  });

  test("end bounds the logical date (interval start) of the interval meaning", () => {
    const bounded = tt({ meaning: "interval", end: at("2025-01-02T00:00:00Z") });
    const last = { start: at("2025-01-02T00:00:00Z"), end: at("2025-01-03T00:00:00Z") };
    assert.equal(nextRun(bounded, last, at("2026-01-01T00:00:00Z")), null);
  });

  test("@continuous past its end has no run", () => {
    assert.equal(nextRun(tt({ spec: { kind: "continuous" }, end: at("2025-02-01T00:00:00Z") }), null, at("2025-03-01T00:00:00Z")), null);
  });

  test("asset schedules and no schedule plan no timed runs", () => {
    assert.equal(nextRun(tt({ spec: { kind: "assets", condition: { uri: "x" } } }), null, at("2025-03-01T00:00:00Z")), null);
    assert.equal(nextRun(tt({ spec: { kind: "none" } }), null, at("2025-03-01T00:00:00Z")), null);
  });

  test("a delta schedule counts absolute time across DST", () => {
    const every = tt({ spec: { kind: "every", everyMs: 86_400_000 }, timezone: "Europe/Berlin", start: at("2025-03-29T12:00:00Z") });
    const runs = runsBetween(every, at("2025-03-29T12:00:00Z"), at("2025-03-31T12:00:00Z"));
    assert.deepEqual(runs.map((r) => iso(r.logicalDate)), ["2025-03-29T12:00:00.000Z", "2025-03-30T12:00:00.000Z", "2025-03-31T12:00:00.000Z"]);
  });
});

describe("manualDataInterval", () => {
  test("interval meaning: the last complete interval before the run (a daily DAG at 01:00 on the 25th covers the 24th)", () => {
    const interval = manualDataInterval(tt({ meaning: "interval" }), at("2025-03-25T01:00:00Z"));
    assert.deepEqual([interval.start, interval.end].map(iso), ["2025-03-24T00:00:00.000Z", "2025-03-25T00:00:00.000Z"]);
  });

  test("interval meaning of a delta: the delta ending at the run", () => {
    const interval = manualDataInterval(tt({ meaning: "interval", spec: { kind: "every", everyMs: 1_800_000 } }), at("2025-03-25T01:00:00Z"));
    assert.deepEqual([interval.start, interval.end].map(iso), ["2025-03-25T00:30:00.000Z", "2025-03-25T01:00:00.000Z"]);
  });

  test("trigger meaning: the empty interval at the run", () => {
    const interval = manualDataInterval(tt({}), at("2025-03-25T01:00:00Z"));
    assert.deepEqual([interval.start, interval.end].map(iso), ["2025-03-25T01:00:00.000Z", "2025-03-25T01:00:00.000Z"]);
  });
});

describe("runsBetween (backfill dates)", () => {
  test("both ends are included and the DAG's start does not matter", () => {
    const runs = runsBetween(tt({ start: at("2030-01-01T00:00:00Z") }), at("2025-01-01T00:00:00Z"), at("2025-01-03T00:00:00Z"));
    assert.deepEqual(runs.map((r) => iso(r.logicalDate)), ["2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", "2025-01-03T00:00:00.000Z"]);
  });

  test("the limit stops long ranges", () => {
    assert.equal(runsBetween(tt({ spec: { kind: "cron", cron: "* * * * *" } }), at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"), 5).length, 5);
  });
});

describe("asset conditions", () => {
  const a = asset("s3://a");
  const b = asset("s3://b");
  const c = asset("s3://c");

  test("and/or methods and allOf/anyOf build the same conditions", () => {
    const viaMethods = a.and(b.or(c));
    const viaFunctions = allOf(a, anyOf(b, c));
    assert.equal(viaMethods.kind, "all");
    assert.deepEqual(JSON.parse(JSON.stringify(viaMethods)), JSON.parse(JSON.stringify(viaFunctions)));
  });

  test("are satisfied as boolean expressions over the updated assets", () => {
    const condition = { all: [{ uri: "s3://a" }, { any: [{ uri: "s3://b" }, { uri: "s3://c" }] }] };
    assert.equal(conditionSatisfied(condition, new Set(["s3://a"])), false);
    assert.equal(conditionSatisfied(condition, new Set(["s3://a", "s3://c"])), true);
    assert.equal(conditionSatisfied(condition, new Set(["s3://b", "s3://c"])), false);
    assert.deepEqual(conditionUris(condition), ["s3://a", "s3://b", "s3://c"]);
    assert.equal(describeCondition(condition), "s3://a & (s3://b | s3://c)");
  });
});

describe("schedule options at load time", () => {
  const define = (id: string, options: Record<string, unknown>) => {
    clearRegistry();
    return dag(id, options as never, () => {
      task("t", () => 1);
    });
  };
  const rejects = (options: Record<string, unknown>, fragment: string) =>
    assert.throws(
      () => define("bad", options),
      (error: unknown) => error instanceof DagDefinitionError && error.message.startsWith("DAG 'bad': ") && error.message.includes(fragment),
    );

  test("accepts { every }, asset schedules (without a start) and the interval meaning", () => {
    const every = define("every", { schedule: { every: "1h30m" }, start: "2025-01-01", timetable: "interval" }).serialize("/x.ts");
    assert.deepEqual([every.scheduleSpec, every.schedule, every.timetable], [{ kind: "every", everyMs: 5_400_000 }, "@every 1h30m", "interval"]);
    const assets = define("assets", { schedule: [asset("s3://a"), asset("s3://b")] }).serialize("/x.ts");
    assert.deepEqual(assets.scheduleSpec, { kind: "assets", condition: { all: [{ uri: "s3://a" }, { uri: "s3://b" }] } });
    assert.equal(assets.schedule, "s3://a & s3://b");
  });

  test("rejects what cannot work, naming the DAG", () => {
    rejects({ schedule: "@continuous", start: "2025-01-01", maxActiveRuns: 2 }, 'schedule "@continuous" needs maxActiveRuns: 1');
    rejects({ schedule: "@daily", start: "2025-01-01", timetable: "data" }, 'option timetable must be one of "trigger", "interval"');
    rejects({ schedule: null, timetable: "interval" }, 'option timetable "interval" needs a cron, preset or { every } schedule');
    rejects({ schedule: { every: "500ms" }, start: "2025-01-01" }, "must be at least 1s");
    rejects({ schedule: { every: "1h" } }, "option start is required");
    rejects({ schedule: asset(" s3://a") }, "must not contain whitespace");
    rejects({ schedule: anyOf() }, "anyOf() needs at least one asset");
    rejects({ schedule: 5 }, "option schedule must be a cron string");
    rejects({ schedule: null, dagrunTimeout: "0s" }, "option dagrunTimeout must be a duration greater than 0");
  });

  test("outlets must be assets", () => {
    clearRegistry();
    assert.throws(
      () => dag("out", {}, () => void task("t", () => 1, { outlets: ["s3://a"] as never })),
      (error: unknown) => error instanceof DagDefinitionError && error.message.includes("DAG 'out', task 't': option outlets item must be an asset"),
    );
  });
});
