/**
 * Timetables: when a DAG's automated runs happen and which data interval each covers, as Airflow 3's
 * timetables decide it. Pure: the current time is a parameter, nothing is read from a clock or a DB.
 *
 * Two meanings of a cron or `{ every }` schedule (the DAG option `timetable`):
 * - "trigger" (default; CronTriggerTimetable / DeltaTriggerTimetable): a run happens at each fire
 *   time; its logical date is the fire time and its data interval is empty at that instant.
 * - "interval" (CronDataIntervalTimetable / DeltaDataIntervalTimetable): a run covers the interval
 *   [start, end) between two fire times, its logical date is `start` and it runs after `end`.
 */
import type { AssetCondition } from "./asset-condition.js";
import { CronClock } from "./cron-clock.js";

/** The two meanings of a cron or `{ every }` schedule. */
export const TIMETABLE_MEANINGS = ["trigger", "interval"] as const;
export type TimetableMeaning = (typeof TIMETABLE_MEANINGS)[number];

/** A DAG's schedule, resolved: presets expanded, durations in milliseconds. */
export type ScheduleSpec =
  | { kind: "none" }
  | { kind: "once" }
  | { kind: "continuous" }
  | { kind: "cron"; cron: string }
  | { kind: "every"; everyMs: number }
  | { kind: "assets"; condition: AssetCondition };

export interface DataInterval {
  start: Date;
  end: Date;
}

/** A run the scheduler should create once `runAfter` has passed. */
export interface PlannedRun {
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runAfter: Date;
}

/** Everything that decides a DAG's automated runs. */
export interface Timetable {
  spec: ScheduleSpec;
  meaning: TimetableMeaning;
  /** First logical date the schedule may produce (null: none; scheduled DAGs always have one). */
  start: Date | null;
  /** Last logical date the schedule may produce. */
  end: Date | null;
  timezone: string;
  catchup: boolean;
}

/** How one kind of schedule steps through time (Airflow's `_align_to_next`, `_get_prev`...). */
interface Steps {
  /** The first schedule point at or after `date`. */
  alignNext(date: Date): Date | null;
  /** The last schedule point at or before `date`. */
  alignPrev(date: Date): Date | null;
  /** The first schedule point strictly after `date`. */
  next(date: Date): Date | null;
  /** The last schedule point strictly before `date`. */
  prev(date: Date): Date | null;
  /** Start of the latest complete interval before `now` (catchup off, interval meaning). */
  latestCompleteStart(now: Date): Date | null;
}

function stepsOf(spec: ScheduleSpec, timezone: string): Steps | null {
  if (spec.kind === "cron") {
    const clock = new CronClock(spec.cron, timezone);
    return {
      alignNext: (d) => clock.firstAtOrAfter(d),
      alignPrev: (d) => clock.latestAtOrBefore(d),
      next: (d) => clock.firstAfter(d),
      prev: (d) => clock.latestBefore(d),
      latestCompleteStart(now) {
        // Airflow's CronDataIntervalTimetable._skip_to_latest: on a boundary, the interval ending now.
        const lastStart = clock.latestBefore(now);
        if (lastStart === null) return null;
        return clock.firstAfter(lastStart)?.getTime() === now.getTime() ? lastStart : clock.latestBefore(lastStart);
      },
    };
  }
  if (spec.kind === "every") {
    const shift = (d: Date, by: number) => new Date(d.getTime() + by);
    return {
      alignNext: (d) => d,
      alignPrev: (d) => d,
      next: (d) => shift(d, spec.everyMs),
      prev: (d) => shift(d, -spec.everyMs),
      // DeltaDataIntervalTimetable._skip_to_latest: the interval ending now (to the second).
      latestCompleteStart: (now) => shift(toSecond(now), -spec.everyMs),
    };
  }
  return null;
}

/** Whole seconds: Airflow rounds "now" so that delta schedules do not carry stray milliseconds. */
function toSecond(date: Date): Date {
  return new Date(date.getTime() - (((date.getTime() % 1000) + 1000) % 1000));
}

/** The latest of some dates, ignoring nulls; null if there are none. */
function latest(dates: Array<Date | null>): Date | null {
  let out: Date | null = null;
  for (const date of dates) if (date !== null && (out === null || date.getTime() > out.getTime())) out = date;
  return out;
}

const exact = (at: Date): PlannedRun => ({ logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, runAfter: at });
const interval = (start: Date, end: Date): PlannedRun => ({ logicalDate: start, dataIntervalStart: start, dataIntervalEnd: end, runAfter: end });

/**
 * The DAG's next automated run after the last one, or null when the schedule produces no more runs.
 * The result may lie in the future; the caller waits until `runAfter`.
 *
 * @param last the data interval of the DAG's latest automated run (null: none yet).
 * @param now the current time: decides which runs catchup off skips, and the end of `@continuous` runs.
 */
export function nextRun(tt: Timetable, last: DataInterval | null, now: Date): PlannedRun | null {
  const { spec, start, end } = tt;
  const afterEnd = (date: Date) => end !== null && date.getTime() > end.getTime();
  switch (spec.kind) {
    case "none":
    case "assets":
      return null;
    case "once":
      return last !== null || start === null || afterEnd(start) ? null : exact(start);
    case "continuous": {
      if (start === null) return null;
      const run = last !== null ? interval(last.end, now) : interval(start, latest([start, now])!);
      return afterEnd(run.dataIntervalEnd) ? null : run;
    }
    case "cron":
    case "every": {
      const steps = stepsOf(spec, tt.timezone)!;
      return tt.meaning === "interval" ? nextDataInterval(tt, steps, last, now) : nextTrigger(tt, steps, last, now);
    }
  }
}

/** CronTriggerTimetable / DeltaTriggerTimetable `next_dagrun_info`. */
function nextTrigger(tt: Timetable, steps: Steps, last: DataInterval | null, now: Date): PlannedRun | null {
  const fromLast = last === null ? null : steps.next(last.end);
  const fromStart = tt.start === null ? null : steps.alignNext(tt.start);
  if (last !== null && fromLast === null) return null; // the cron has no later fire
  if (last === null && tt.start !== null && fromStart === null) return null;
  let fire: Date | null;
  if (tt.catchup) {
    // A start moved later than the last run also moves the next run (as the interval meaning does).
    fire = latest([fromLast, fromStart]);
  } else {
    // Fires missed while the DAG was off (or new) collapse into the latest one at or before now.
    const latestPast = tt.spec.kind === "every" ? toSecond(now) : steps.alignPrev(now);
    fire = latest([latestPast, fromLast, fromStart]);
  }
  if (fire === null || (tt.end !== null && fire.getTime() > tt.end.getTime())) return null;
  return exact(fire);
}

/** CronDataIntervalTimetable / DeltaDataIntervalTimetable `next_dagrun_info`. */
function nextDataInterval(tt: Timetable, steps: Steps, last: DataInterval | null, now: Date): PlannedRun | null {
  let earliest = tt.start === null ? null : steps.alignNext(tt.start);
  if (tt.start !== null && earliest === null) return null;
  if (!tt.catchup) earliest = latest([steps.latestCompleteStart(now), earliest]);
  let start: Date | null;
  if (last === null) {
    start = earliest;
  } else {
    // Aligned, in case the schedule changed since the last run.
    start = latest([steps.alignPrev(last.end), earliest]);
  }
  if (start === null || (tt.end !== null && start.getTime() > tt.end.getTime())) return null;
  const end = steps.next(start);
  return end === null ? null : interval(start, end);
}

/**
 * The data interval of a manual run (Airflow's `infer_manual_data_interval`): with the interval
 * meaning, the last complete interval before `runAfter` (a daily DAG triggered at 01:00 on the 25th
 * covers the 24th); otherwise the empty interval at `runAfter`.
 */
export function manualDataInterval(tt: Timetable, runAfter: Date): DataInterval {
  const steps = tt.meaning === "interval" ? stepsOf(tt.spec, tt.timezone) : null;
  if (steps !== null) {
    const end = steps.alignPrev(runAfter);
    const start = end === null ? null : steps.prev(end);
    if (end !== null && start !== null) return { start, end };
  }
  return { start: runAfter, end: runAfter };
}

/** Most runs one backfill may create. */
export const MAX_BACKFILL_RUNS = 10_000;

/**
 * The runs the schedule has with logical dates in [from, to], oldest first (Airflow's
 * `iter_dagrun_infos_between`, used by backfills): as with catchup on, ignoring `start` and `end`.
 * Empty for schedules without fire times (none, @once, @continuous, assets).
 *
 * @param limit stop after this many runs (the caller treats reaching it as "too many").
 */
export function runsBetween(tt: Timetable, from: Date, to: Date, limit = MAX_BACKFILL_RUNS): PlannedRun[] {
  if (tt.spec.kind !== "cron" && tt.spec.kind !== "every") return [];
  const bounded: Timetable = { ...tt, start: from, end: to, catchup: true };
  const out: PlannedRun[] = [];
  let last: DataInterval | null = null;
  while (out.length < limit) {
    const run = nextRun(bounded, last, to);
    if (run === null) break;
    out.push(run);
    last = { start: run.dataIntervalStart, end: run.dataIntervalEnd };
  }
  return out;
}
