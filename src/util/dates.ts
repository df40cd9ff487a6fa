/** Turns the `start`/`end` values users write in DAG files into UTC instants. */

import { DagDefinitionError } from "../errors.js";

/**
 * `YYYY-MM-DD`, optionally followed by `THH:MM[:SS[.fff]]` and, with a time, an offset (`Z`, `+05:00`).
 * Groups: year, month, day, hour, minute, second, fraction, offset.
 */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Converts a Date or an ISO 8601 string to an instant.
 *
 * A string without an offset ("2025-01-01", "2025-01-01T06:00") is a wall-clock time in `timezone`,
 * as Airflow reads a naive `start_date` in the DAG's timezone; this also keeps the result independent
 * of the timezone of the machine that parses the DAG file.
 *
 * @param where what the value configures, e.g. "DAG 'etl': option start"; it starts the error message.
 * @throws DagDefinitionError when the value is not a valid Date or ISO 8601 string.
 */
export function toInstant(value: Date | string, timezone: string, where: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new DagDefinitionError(`${where}: the Date is invalid`);
    return new Date(value.getTime());
  }
  const invalid = () =>
    new DagDefinitionError(
      `${where}: invalid date ${JSON.stringify(value)}; use a Date or an ISO 8601 string such as ` +
        '"2025-01-01", "2025-01-01T06:00" (in the DAG timezone) or "2025-01-01T06:00:00Z"',
    );
  if (typeof value !== "string") throw invalid();
  const match = ISO_DATE.exec(value.trim());
  if (!match) throw invalid();
  const [, year, month, day, hour = "0", minute = "0", second = "0", fraction = "0", offset] = match;
  const fields = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const millis = Math.round(Number(`0.${fraction}`) * 1000);
  const wall = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5], millis);
  // Date.UTC rolls 2025-02-30 over to March; a round trip that changes the fields means a bad date.
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== fields[0] ||
    check.getUTCMonth() !== fields[1] - 1 ||
    check.getUTCDate() !== fields[2] ||
    check.getUTCHours() !== fields[3] ||
    check.getUTCMinutes() !== fields[4] ||
    check.getUTCSeconds() !== fields[5]
  ) {
    throw invalid();
  }
  if (offset !== undefined) return new Date(wall - offsetFromText(offset));
  return new Date(wallTimeToUtc(wall, timezone));
}

/** "Z" → 0, "+05:30" / "-0800" → signed milliseconds east of UTC. */
function offsetFromText(offset: string): number {
  if (offset.toUpperCase() === "Z") return 0;
  const sign = offset.startsWith("-") ? -1 : 1;
  const digits = offset.slice(1).replace(":", "");
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}

const DAY_MS = 86_400_000;

/**
 * Finds the instant at which the clocks in `timezone` show `wall` (wall-clock fields encoded as if UTC).
 * Like Temporal's "compatible" choice: a time repeated by a fall back is its earlier instant, and a time
 * skipped by a spring forward moves forward by the gap (02:30 becomes 03:30). Assumes at most one
 * offset change within a day of `wall`, which holds for every IANA zone.
 */
function wallTimeToUtc(wall: number, timezone: string): number {
  const offsetBefore = zoneOffset(wall - DAY_MS, timezone);
  const offsetAfter = zoneOffset(wall + DAY_MS, timezone);
  const candidates = [wall - offsetBefore, wall - offsetAfter].filter(
    (instant) => wall - zoneOffset(instant, timezone) === instant,
  );
  return candidates.length > 0 ? Math.min(...candidates) : wall - offsetBefore;
}

/** Milliseconds `timezone` is ahead of UTC at `instant`. */
function zoneOffset(instant: number, timezone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((part) => part.type === type)?.value);
  const shownAsUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  const wholeSeconds = instant - (((instant % 1000) + 1000) % 1000);
  return shownAsUtc - wholeSeconds;
}

/**
 * Python's `isoformat(sep)` of a UTC datetime, as Airflow prints dates: 2026-01-05T00:00:00+00:00,
 * with microseconds only when they are not zero. `sep` " " gives Python's `str()`.
 */
export function pythonIsoformat(date: Date, sep: "T" | " " = "T"): string {
  const iso = date.toISOString();
  const ms = date.getUTCMilliseconds();
  return `${iso.slice(0, 10)}${sep}${iso.slice(11, 19)}${ms === 0 ? "" : `.${String(ms).padStart(3, "0")}000`}+00:00`;
}
