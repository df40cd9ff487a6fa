import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseDuration } from "../../src/util/duration.js";
import { DagDefinitionError } from "../../src/errors.js";

describe("parseDuration", () => {
  test("takes numbers as milliseconds", () => {
    assert.equal(parseDuration(0, "x"), 0);
    assert.equal(parseDuration(1500, "x"), 1500);
  });

  test("reads each unit", () => {
    assert.equal(parseDuration("500ms", "x"), 500);
    assert.equal(parseDuration("30s", "x"), 30_000);
    assert.equal(parseDuration("5m", "x"), 300_000);
    assert.equal(parseDuration("1h", "x"), 3_600_000);
    assert.equal(parseDuration("1d", "x"), 86_400_000);
  });

  test("adds up compound strings and fractions", () => {
    assert.equal(parseDuration("1h30m", "x"), 5_400_000);
    assert.equal(parseDuration("1d2h3m4s5ms", "x"), 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5);
    assert.equal(parseDuration("1.5s", "x"), 1500);
    assert.equal(parseDuration("1m500ms", "x"), 60_500);
  });

  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "", "30", "5x", "1h 30m", "m", "-5s", "1.s", " 5s", "5S"]) {
    test(`rejects ${typeof bad === "string" ? JSON.stringify(bad) : String(bad)}, naming where and the value`, () => {
      assert.throws(
        () => parseDuration(bad, "DAG 'etl', task 'load': option retryDelay"),
        (error: unknown) => {
          assert.ok(error instanceof DagDefinitionError);
          assert.match(error.message, /^DAG 'etl', task 'load': option retryDelay: invalid duration /);
          assert.ok(error.message.includes(typeof bad === "string" ? JSON.stringify(bad) : String(bad)), error.message);
          assert.match(error.message, /"500ms", "30s", "5m", "1h", "1d" or "1h30m"/);
          return true;
        },
      );
    });
  }

  test("rejects values of other types", () => {
    assert.throws(() => parseDuration(null as unknown as number, "w"), /w: invalid duration null value/);
    assert.throws(() => parseDuration({} as unknown as number, "w"), /w: invalid duration object value/);
  });
});
