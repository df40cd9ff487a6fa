/**
 * Schedule strings: validating cron expressions and presets, and the timetable of a serialized DAG.
 * The rules that plan runs live in timetable.ts; the fire times of a cron in cron-clock.ts.
 */

import { CronExpressionParser } from "cron-parser";
import type { SerializedDag } from "../dag/types.js";
import { ScheduleError } from "../errors.js";
import { nextRun, type DataInterval, type PlannedRun, type ScheduleSpec, type Timetable } from "./timetable.js";

export type { PlannedRun } from "./timetable.js";

/** Presets and the cron expressions they stand for. */
export const SCHEDULE_PRESETS = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@quarterly": "0 0 1 */3 *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
} as const satisfies Record<string, string>;

/** The preset for a single run at the DAG's `start`. */
export const ONCE = "@once";

/** The preset for a new run as soon as the previous one finished (needs maxActiveRuns 1). */
export const CONTINUOUS = "@continuous";

/** Every preset `validateSchedule` accepts, in the order error messages list them. */
export const PRESET_NAMES: readonly string[] = [...Object.keys(SCHEDULE_PRESETS), ONCE, CONTINUOUS];

/** The five cron fields, their names in messages, and the values each takes. */
const CRON_FIELDS = [
  { name: "minute", range: "0-59" },
  { name: "hour", range: "0-23" },
  { name: "day-of-month", range: "1-31" },
  { name: "month", range: "1-12 or JAN-DEC" },
  { name: "day-of-week", range: "0-7 or SUN-SAT (0 and 7 are Sunday)" },
] as const;

/**
 * The cron expression a schedule stands for: a preset's expansion, the string itself for a cron
 * expression, or null for `@once` and for no schedule. Assumes the schedule was validated.
 */
export function resolveCron(schedule: string | null): string | null {
  const spec = specOfString(schedule);
  return spec.kind === "cron" ? spec.cron : null;
}

/**
 * Checks a schedule and a timezone.
 *
 * @param schedule a 5-field cron expression, a preset such as "@daily", "@once", or null (manual runs only).
 * @param timezone an IANA zone name such as "Europe/Paris".
 * @throws ScheduleError saying what is wrong: unknown preset, wrong field count, a field out of range,
 *   an unknown timezone.
 */
export function validateSchedule(schedule: string | null, timezone: string): void {
  validateTimezone(timezone);
  if (schedule === null) return;
  if (typeof schedule !== "string") {
    throw new ScheduleError(`schedule must be a string or null, got ${typeof schedule}`);
  }
  const trimmed = schedule.trim();
  if (trimmed === "") {
    throw new ScheduleError(`schedule is empty; use a cron expression, one of ${PRESET_NAMES.join(", ")}, or null`);
  }
  if (trimmed.startsWith("@")) {
    if (trimmed !== ONCE && trimmed !== CONTINUOUS && presetCron(trimmed) === undefined) {
      throw new ScheduleError(`unknown schedule preset "${schedule}"; known presets: ${PRESET_NAMES.join(", ")}`);
    }
    return;
  }
  validateCron(trimmed, timezone);
}

/** Throws ScheduleError unless `timezone` is an IANA zone both Intl and cron-parser can use. */
export function validateTimezone(timezone: string): void {
  const unknown = () =>
    new ScheduleError(`unknown timezone ${JSON.stringify(timezone)}; use an IANA name such as "UTC" or "America/New_York"`);
  if (typeof timezone !== "string" || timezone.trim() === "") throw unknown();
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw unknown();
  }
  // Some names Intl accepts (offsets such as "+05:00" in newer Node versions) break cron-parser later.
  try {
    CronExpressionParser.parse("0 0 * * *", { tz: timezone, currentDate: new Date(0) }).next();
  } catch {
    throw unknown();
  }
}

function validateCron(expression: string, timezone: string): void {
  const fields = expression.split(/\s+/);
  // cron-parser also takes a leading seconds field; Aloft schedules are minute-grained like Airflow's.
  if (fields.length !== CRON_FIELDS.length) {
    throw new ScheduleError(
      `invalid cron expression "${expression}": it has ${fields.length} field${fields.length === 1 ? "" : "s"}, ` +
        `but cron needs 5: ${CRON_FIELDS.map((field) => field.name).join(" ")} ` +
        `(or use a preset: ${PRESET_NAMES.join(", ")})`,
    );
  }
  // cron-parser's "H" picks a random value on every parse, so each scheduler would see another time.
  const hashed = fields.findIndex((field) => /h/i.test(field.replace(/thu/gi, "")));
  if (hashed !== -1) {
    throw new ScheduleError(
      `invalid cron expression "${expression}": the ${CRON_FIELDS[hashed]!.name} field "${fields[hashed]}" ` +
        'uses "H" (hashed values), which Aloft does not support; write the value explicitly',
    );
  }
  fields.forEach((field, index) => {
    // Parsing one field with the others wildcarded pins an error on the field that causes it.
    const alone = CRON_FIELDS.map((_, other) => (other === index ? field : "*")).join(" ");
    const problem = cronParseError(alone, timezone);
    if (problem !== null) {
      const { name, range } = CRON_FIELDS[index]!;
      throw new ScheduleError(
        `invalid cron expression "${expression}": the ${name} field "${field}" is invalid ` +
          `(allowed: ${range}): ${problem}`,
      );
    }
  });
  // Fields can be valid alone yet impossible together, such as "0 0 30 2 *" (February 30th).
  const problem = cronParseError(expression, timezone);
  if (problem !== null) throw new ScheduleError(`invalid cron expression "${expression}": ${problem}`);
}

function cronParseError(expression: string, timezone: string): string | null {
  try {
    CronExpressionParser.parse(expression, { tz: timezone });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The timetable of a serialized DAG. DAGs stored before `scheduleSpec` existed carry only the
 * schedule string, which then decides.
 */
export function timetableOf(
  dag: Pick<SerializedDag, "schedule" | "start" | "end" | "timezone" | "catchup"> & Partial<Pick<SerializedDag, "scheduleSpec" | "timetable">>,
): Timetable {
  return {
    spec: dag.scheduleSpec ?? specOfString(dag.schedule),
    meaning: dag.timetable ?? "trigger",
    start: dag.start === null ? null : new Date(dag.start),
    end: dag.end === null ? null : new Date(dag.end),
    timezone: dag.timezone,
    catchup: dag.catchup,
  };
}

/** The spec of a validated schedule string (or null). */
export function specOfString(schedule: string | null): ScheduleSpec {
  const trimmed = schedule?.trim() ?? null;
  if (trimmed === null) return { kind: "none" };
  if (trimmed === ONCE) return { kind: "once" };
  if (trimmed === CONTINUOUS) return { kind: "continuous" };
  return { kind: "cron", cron: presetCron(trimmed) ?? trimmed };
}

/**
 * Plans a DAG's next automated run, or returns null when the schedule produces no more runs (see
 * `nextRun` in timetable.ts for the rules). The result may lie in the future; the caller waits until `runAfter`.
 *
 * @param last the data interval of the DAG's latest automated run, or its logical date (an empty
 *   interval there), or null when it has none.
 */
export function nextDagRun(
  dag: Parameters<typeof timetableOf>[0],
  last: DataInterval | Date | null,
  now: Date,
): PlannedRun | null {
  const lastInterval = last instanceof Date ? { start: last, end: last } : last;
  return nextRun(timetableOf(dag), lastInterval, now);
}

function presetCron(schedule: string): string | undefined {
  return Object.hasOwn(SCHEDULE_PRESETS, schedule)
    ? SCHEDULE_PRESETS[schedule as keyof typeof SCHEDULE_PRESETS]
    : undefined;
}

