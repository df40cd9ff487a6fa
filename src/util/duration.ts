/** Parses the `Duration` values users write in DAG files ("30s", "1h30m", 500) into milliseconds. */

import type { Duration } from "../dag/types.js";
import { DagDefinitionError } from "../errors.js";

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

type Unit = keyof typeof UNIT_MS;

/** One "<amount><unit>" part; `ms` comes before `m` so "500ms" is not read as "500m" + "s". */
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

const ACCEPTED_FORMS =
  'a non-negative number of milliseconds or a string such as "500ms", "30s", "5m", "1h", "1d" or "1h30m"';

/**
 * Converts a duration to whole milliseconds.
 *
 * @param value a non-negative finite number of milliseconds, or a string made of one or more
 *   `<amount><unit>` parts (units: ms, s, m, h, d), e.g. "30s" or "1h30m".
 * @param where what the value configures, e.g. "DAG 'etl', task 'load': option retryDelay";
 *   it starts the error message.
 * @throws DagDefinitionError naming `where`, the bad value and the accepted forms.
 */
export function parseDuration(value: Duration, where: string): number {
  const ms = typeof value === "number" ? value : typeof value === "string" ? parseDurationString(value) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
    throw new DagDefinitionError(`${where}: invalid duration ${describe(value)}; use ${ACCEPTED_FORMS}`);
  }
  // Fractions such as "1.5s" or 0.5 are fine to write; the rest of Aloft counts whole milliseconds.
  return Math.round(ms);
}

/** Returns NaN when the string is not a sequence of `<amount><unit>` parts. */
function parseDurationString(text: string): number {
  if (text.length === 0) return NaN;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (!match) return NaN;
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
  }
  return total;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  return `${value === null ? "null" : typeof value} value`;
}
