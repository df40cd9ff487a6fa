/** Named errors callers must tell apart. Each message names what failed and what to do. */

/** Bad input from the user (flags, files, ids): the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A DAG definition that cannot be accepted; the message names the file, the DAG and the task. */
export class DagDefinitionError extends Error {
  override name = "DagDefinitionError";
}

/** A schedule string that is neither a valid cron expression nor a known preset. */
export class ScheduleError extends Error {
  override name = "ScheduleError";
}

/** The metadata database could not be reached or used. */
export class DatabaseError extends Error {
  override name = "DatabaseError";
}

/** A unknown DAG, run or task id. */
export class NotFoundError extends UsageError {
  override name = "NotFoundError";
}

/** A change refused because of the state something is in (a DAG whose tries are running): the API's 409. */
export class ConflictError extends UsageError {
  override name = "ConflictError";
}

/** A scheduling transaction found that another scheduler holds a newer lease epoch. */
export class StaleEpochError extends Error {
  override name = "StaleEpochError";
  constructor(
    readonly heldEpoch: number,
    readonly currentEpoch: number | null,
  ) {
    super(
      `scheduler lease epoch ${heldEpoch} is stale (current epoch: ${currentEpoch ?? "none"}); ` +
        "this scheduler was deposed and must stop scheduling",
    );
  }
}
