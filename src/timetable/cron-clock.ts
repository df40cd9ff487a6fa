/**
 * Fire times of a cron expression in a timezone, robust across DST changes. Pure: no clock, no DB.
 */
import { CronExpressionParser, type CronExpression } from "cron-parser";

/** How far `latestAtOrBefore` steps back past fire times that forward iteration does not produce. */
const MAX_BACKWARD_STEPS = 200;

/**
 * Fire times of a cron expression in a timezone.
 *
 * Forward iteration (`next`) is the source of truth: around DST changes cron-parser's `prev` can skip
 * a fire that `next` produces (spring forward) or yield one that `next` skips (the repeated hour of a
 * fall back), so backward searches are checked against, and completed by, forward steps.
 */
export class CronClock {
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

  /** The first fire at or after `date` (Airflow's `_align_to_next`). */
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

  /** The latest fire strictly before `date` (Airflow's `_get_prev`). */
  latestBefore(date: Date): Date | null {
    return this.latestAtOrBefore(new Date(date.getTime() - 1));
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
