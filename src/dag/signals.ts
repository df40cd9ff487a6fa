/**
 * Errors a function task throws to end its try with a given state (Airflow's AirflowSkipException
 * and AirflowFailException). They are recognised by a brand, not `instanceof`, so that a DAG bundle
 * carrying its own copy of this module still works.
 */
const BRAND = Symbol.for("aloft.task-signal");

type Signal = "skip" | "fail";

class TaskSignal extends Error {
  readonly [BRAND]: Signal;
  constructor(signal: Signal, message: string) {
    super(message);
    this[BRAND] = signal;
  }
}

/** Throw to mark the try skipped (downstream all_success tasks are skipped too). */
export class SkipTask extends TaskSignal {
  override name = "SkipTask";
  constructor(message = "the task skipped itself") {
    super("skip", message);
  }
}

/** Throw to fail the task at once, without using its remaining retries. */
export class FailTask extends TaskSignal {
  override name = "FailTask";
  constructor(message = "the task failed itself (no retry)") {
    super("fail", message);
  }
}

function signalOf(error: unknown): Signal | undefined {
  return typeof error === "object" && error !== null ? (error as { [BRAND]?: Signal })[BRAND] : undefined;
}

export const isSkipTask = (error: unknown): boolean => signalOf(error) === "skip";
export const isFailTask = (error: unknown): boolean => signalOf(error) === "fail";
