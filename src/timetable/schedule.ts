/**
 * Schedules: validating cron strings and presets, and planning a DAG's next automated run.
 *
 * Semantics follow Airflow 3's CronTriggerTimetable ("run at the cron time"): a run's logical date
 * is the cron fire time, its data interval is the empty interval at that instant, and it may start
 * as soon as that instant has passed.
 */

import { CronExpressionParser, type CronExpression } from "cron-parser";
import type { SerializedDag } from "../dag/types.js";
import { ScheduleError } from "../errors.js";

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

/** Every preset `validateSchedule` accepts, in the order error messages list them. */
export const PRESET_NAMES: readonly string[] = [...Object.keys(SCHEDULE_PRESETS), ONCE];

/** A run the scheduler should create once `runAfter` has passed. */
export interface PlannedRun {
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runAfter: Date;
}

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
  const trimmed = schedule?.trim() ?? null;
  if (trimmed === null || trimmed === ONCE) return null;
  return presetCron(trimmed) ?? trimmed;
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
  if (trimmed === "@continuous") {
    throw new ScheduleError(
      'schedule "@continuous" is not supported yet (it comes in a later release); ' +
        `use a cron expression or one of ${PRESET_NAMES.join(", ")}`,
    );
  }
  if (trimmed.startsWith("@")) {
    if (trimmed !== ONCE && presetCron(trimmed) === undefined) {
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
 * Plans a DAG's next automated run, or returns null when the schedule produces no more runs.
 *
 * - `@once`: one run at `start` (unless that is after `end`), none once a run exists.
 * - cron: runs fire at or after `start` and at or before `end`. After `lastAutomatedLogicalDate` the
 *   next fire strictly after it is next. Without catchup, missed fires collapse into the latest one at
 *   or before `now`; with catchup every fire is planned, however far in the past.
 *
 * The result may lie in the future; the caller waits until `runAfter`.
 *
 * @param dag the schedule, bounds (ISO strings), timezone and catchup of a validated DAG.
 * @param lastAutomatedLogicalDate the logical date of the DAG's latest scheduled (not manual) run.
 * @param now the current time.
 */
export function nextDagRun(
  dag: Pick<SerializedDag, "schedule" | "start" | "end" | "timezone" | "catchup">,
  lastAutomatedLogicalDate: Date | null,
  now: Date,
): PlannedRun | null {
  if (dag.schedule === null || dag.start === null) return null;
  const start = new Date(dag.start);
  const end = dag.end === null ? null : new Date(dag.end);

  let candidate: Date | null;
  const cron = resolveCron(dag.schedule);
  if (cron === null) {
    candidate = lastAutomatedLogicalDate === null ? start : null;
  } else {
    const clock = new CronClock(cron, dag.timezone);
    const candidates = [clock.firstAtOrAfter(start)];
    if (lastAutomatedLogicalDate !== null) candidates.push(clock.firstAfter(lastAutomatedLogicalDate));
    // Without catchup, fires missed while the DAG was off (or new) collapse into the latest one.
    if (!dag.catchup) candidates.push(clock.latestAtOrBefore(now) ?? start);
    candidate = latestOf(candidates);
  }

  if (candidate === null || (end !== null && candidate.getTime() > end.getTime())) return null;
  return {
    logicalDate: candidate,
    dataIntervalStart: new Date(candidate.getTime()),
    dataIntervalEnd: new Date(candidate.getTime()),
    runAfter: new Date(candidate.getTime()),
  };
}

function presetCron(schedule: string): string | undefined {
  return Object.hasOwn(SCHEDULE_PRESETS, schedule)
    ? SCHEDULE_PRESETS[schedule as keyof typeof SCHEDULE_PRESETS]
    : undefined;
}

/** The latest of some dates, or null if any is null (a bound the cron never reaches). */
function latestOf(dates: Array<Date | null>): Date | null {
  let latest: Date | null = null;
  for (const date of dates) {
    if (date === null) return null;
    if (latest === null || date.getTime() > latest.getTime()) latest = date;
  }
  return latest;
}

/** How far `latestAtOrBefore` steps back past fire times that forward iteration does not produce. */
const MAX_BACKWARD_STEPS = 200;

/**
 * Fire times of a cron expression in a timezone.
 *
 * Forward iteration (`next`) is the source of truth: around DST changes cron-parser's `prev` can skip
 * a fire that `next` produces (spring forward) or yield one that `next` skips (the repeated hour of a
 * fall back), so backward searches are checked against, and completed by, forward steps.
 */
class CronClock {
  constructor(
    private readonly expression: string,
    private readonly timezone: string,
  ) {}

  /** The first fire strictly after `date`, or null if there is none. */
  firstAfter(date: Date): Date | null {
    try {
      return this.iterator(date).next().toDate();
    } catch {
      return null;
    }
  }

  firstAtOrAfter(date: Date): Date | null {
    return this.firstAfter(new Date(date.getTime() - 1));
  }

  /** The latest fire at or before `date`, or null if there is none. */
  latestAtOrBefore(date: Date): Date | null {
    const limit = date.getTime();
    const backward = this.iterator(new Date(limit + 1));
    try {
      // Start the forward walk one fire further back than `prev` suggests: a fire only `prev` yields
      // (repeated hour) is then skipped as in a catchup walk, and one `prev` missed (gap) is walked over.
      backward.prev();
      for (let step = 0; step < MAX_BACKWARD_STEPS; step++) {
        const fire = this.lastFireUpTo(backward.prev().toDate(), limit);
        if (fire !== null) return fire;
      }
    } catch {
      // cron-parser found no earlier fire.
    }
    return null;
  }

  /** Walks forward from `from` (inclusive); the last fire at or before `limit`, or null if the first is after it. */
  private lastFireUpTo(from: Date, limit: number): Date | null {
    const forward = this.iterator(new Date(from.getTime() - 1));
    let last: Date | null = null;
    try {
      for (;;) {
        const fire = forward.next().toDate();
        if (fire.getTime() > limit) return last;
        last = fire;
      }
    } catch {
      return last; // no later fire
    }
  }

  private iterator(currentDate: Date): CronExpression {
    return CronExpressionParser.parse(this.expression, { tz: this.timezone, currentDate });
  }
}
