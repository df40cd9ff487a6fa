import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { toInstant } from "../../src/util/dates.js";
import { DagDefinitionError } from "../../src/errors.js";

const iso = (value: Date | string, timezone = "UTC") => toInstant(value, timezone, "w").toISOString();

describe("toInstant", () => {
  test("keeps Dates and strings with an offset as they are", () => {
    assert.equal(iso(new Date("2025-01-01T10:00:00Z"), "Asia/Tokyo"), "2025-01-01T10:00:00.000Z");
    assert.equal(iso("2025-07-01T12:00:00Z", "America/New_York"), "2025-07-01T12:00:00.000Z");
    assert.equal(iso("2025-07-01T12:00:00+05:30"), "2025-07-01T06:30:00.000Z");
    assert.equal(iso("2025-07-01T12:00:00-0800"), "2025-07-01T20:00:00.000Z");
  });

  test("reads strings without an offset in the given timezone", () => {
    assert.equal(iso("2025-01-01"), "2025-01-01T00:00:00.000Z");
    assert.equal(iso("2025-01-01", "America/New_York"), "2025-01-01T05:00:00.000Z");
    assert.equal(iso("2025-07-01", "America/New_York"), "2025-07-01T04:00:00.000Z");
    assert.equal(iso("2025-01-01", "Asia/Kolkata"), "2024-12-31T18:30:00.000Z");
    assert.equal(iso("2025-07-01T12:00:00.250", "Europe/Paris"), "2025-07-01T10:00:00.250Z");
  });

  test("moves a time skipped by spring forward ahead by the gap, and takes the earlier of a repeated time", () => {
    assert.equal(iso("2025-03-09T02:30", "America/New_York"), "2025-03-09T07:30:00.000Z"); // 03:30 EDT
    assert.equal(iso("2025-11-02T01:30", "America/New_York"), "2025-11-02T05:30:00.000Z"); // 01:30 EDT
    assert.equal(iso("2025-11-02T02:00", "America/New_York"), "2025-11-02T07:00:00.000Z"); // 02:00 EST
  });

  for (const bad of ["2025-02-30", "2025-13-01", "2025-01-01T24:00", "yesterday", "March 7, 2025", "2025-1-1", ""]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => toInstant(bad, "UTC", "DAG 'etl': option start"),
        (error: unknown) =>
          error instanceof DagDefinitionError &&
          error.message.startsWith(`DAG 'etl': option start: invalid date ${JSON.stringify(bad)}`),
      );
    });
  }

  test("rejects an invalid Date", () => {
    assert.throws(() => toInstant(new Date("nope"), "UTC", "DAG 'etl': option end"), /DAG 'etl': option end: the Date is invalid/);
  });
});
