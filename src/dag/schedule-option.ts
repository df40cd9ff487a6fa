/**
 * The DAG option `schedule` (with `timetable`): checked and resolved into the stored `ScheduleSpec`
 * and the label listings show.
 */
import { DagDefinitionError, ScheduleError } from "../errors.js";
import { describeCondition } from "../timetable/asset-condition.js";
import { specOfString, validateSchedule } from "../timetable/schedule.js";
import { TIMETABLE_MEANINGS, type ScheduleSpec } from "../timetable/timetable.js";
import { parseDuration } from "../util/duration.js";
import { isAssetExpression, toAssetCondition } from "./assets.js";

/** Longest schedule label stored (the `dag.schedule` column). */
const MAX_LABEL = 250;

export interface ResolvedSchedule {
  spec: ScheduleSpec;
  /** The schedule as listings show it: the cron string, the preset, "@every 30m", the asset condition. */
  label: string | null;
}

/**
 * Resolves a DAG's `schedule` option.
 * @param where "DAG 'etl'": starts every message.
 * @throws DagDefinitionError naming the DAG and what is wrong.
 */
export function resolveScheduleOption(where: string, schedule: unknown, timezone: string): ResolvedSchedule {
  if (schedule === null || schedule === undefined || typeof schedule === "string") {
    try {
      validateSchedule((schedule ?? null) as string | null, timezone);
    } catch (error) {
      if (error instanceof ScheduleError) throw new DagDefinitionError(`${where}: ${error.message}`);
      throw error;
    }
    return { spec: specOfString((schedule ?? null) as string | null), label: (schedule as string | null)?.trim() ?? null };
  }
  if (isAssetExpression(schedule) || Array.isArray(schedule)) {
    const condition = toAssetCondition(schedule, "option schedule");
    if ("error" in condition) throw new DagDefinitionError(`${where}: ${condition.error}`);
    return { spec: { kind: "assets", condition }, label: describeCondition(condition).slice(0, MAX_LABEL) };
  }
  if (typeof schedule === "object" && Object.keys(schedule).length === 1 && "every" in schedule) {
    const every = (schedule as { every: unknown }).every;
    const everyMs = parseDuration(every as number, `${where}: option schedule { every }`);
    if (everyMs < 1000) {
      throw new DagDefinitionError(`${where}: option schedule { every } must be at least 1s, got ${JSON.stringify(every)}`);
    }
    return { spec: { kind: "every", everyMs }, label: `@every ${typeof every === "number" ? `${every}ms` : String(every)}` };
  }
  throw new DagDefinitionError(
    `${where}: option schedule must be a cron string, a preset such as "@daily", null, { every: "30m" }, ` +
      `or assets (asset(uri), [asset(a), asset(b)], allOf(...), anyOf(...)); got ${typeof schedule === "object" ? "an object" : typeof schedule}`,
  );
}

/**
 * Checks that `timetable` and `maxActiveRuns` fit the schedule.
 * @throws DagDefinitionError naming the DAG and the option.
 */
export function checkScheduleFit(where: string, spec: ScheduleSpec, timetable: unknown, maxActiveRuns: unknown): void {
  if (timetable !== undefined) {
    if (!(TIMETABLE_MEANINGS as readonly unknown[]).includes(timetable)) {
      throw new DagDefinitionError(`${where}: option timetable must be one of ${TIMETABLE_MEANINGS.map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(timetable)}`);
    }
    if (timetable === "interval" && spec.kind !== "cron" && spec.kind !== "every") {
      throw new DagDefinitionError(
        `${where}: option timetable "interval" needs a cron, preset or { every } schedule; remove it for this schedule`,
      );
    }
  }
  if (spec.kind === "continuous" && maxActiveRuns !== 1) {
    throw new DagDefinitionError(
      `${where}: schedule "@continuous" needs maxActiveRuns: 1 (got ${maxActiveRuns === undefined ? "the default 16" : JSON.stringify(maxActiveRuns)}); add maxActiveRuns: 1 to the DAG options`,
    );
  }
}
