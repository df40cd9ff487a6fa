/**
 * Task try logs in the DB. Runners send log text to their executor, which appends it in batches:
 * with the try's outcome when it ends, and every LOG_FLUSH_MS while it runs, so a running try's log
 * can be followed from any node.
 *
 * A try's log is capped (config task_log_max_bytes, see log-cap.ts): each try has a size row in
 * task_log_size, locked by every append, so that appenders in several processes (an executor, the
 * scheduler failing an orphaned try) keep one consistent head and tail. Each chunk carries its byte
 * offset in the whole log; readers show a marker line where offsets leave a gap.
 */
import type { Kysely, Transaction } from "kysely";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { chunks, groupBy } from "../util/chunks.js";
import { keptPart, omittedMarker, planAppend, type LogPart, type LogSize } from "./log-cap.js";
import type { TryRequest } from "./protocol.js";

type Db = Kysely<Database> | Transaction<Database>;

export const LOG_FLUSH_MS = 250;

/** Default of config task_log_max_bytes: 4 MiB per try. */
export const DEFAULT_TASK_LOG_MAX_BYTES = 4 * 1024 * 1024;

export interface LogChunk {
  request: Pick<TryRequest, "tiId" | "tryNumber" | "dagId" | "runId" | "taskId" | "mapIndex">;
  text: string;
  at: number;
}

/** How appends cap a try's log. */
export interface LogCap {
  /** Config task_log_max_bytes; 0: no cap. */
  maxBytes: number;
  /** Whether the store understands `SELECT … FOR UPDATE` (Store.supportsRowLocks). */
  rowLocks: boolean;
}

/** The cap for appends to `store`; `maxBytes` is config task_log_max_bytes. */
export function logCap(store: Pick<Store, "supportsRowLocks">, maxBytes = DEFAULT_TASK_LOG_MAX_BYTES): LogCap {
  return { maxBytes, rowLocks: store.supportsRowLocks };
}

/** For a log line of a try that has no other log (one that failed before it could start). */
export const NO_LOG_CAP: LogCap = { maxBytes: 0, rowLocks: false };

/**
 * Appends log text to the tries' logs. With a cap, call it inside a transaction (Store.transaction):
 * the tries' size rows stay locked until it commits.
 */
export async function appendTryLogs(trx: Db, logs: LogChunk[], cap: LogCap): Promise<void> {
  // The chunks of one try in one append become one row: fewer rows to insert, read and trim.
  const byTry = [...groupBy(logs, (l) => `${l.request.tiId}|${l.request.tryNumber}`).values()]
    .map((group) => ({ ...group[0]!, text: group.map((l) => l.text).join("") }))
    .filter((l) => l.text !== "");
  if (byTry.length === 0) return;
  if (cap.maxBytes <= 0) {
    await insertChunks(trx, byTry.map((l) => ({ log: l, part: { offset: null, text: l.text } })));
    return;
  }
  const sizes = await lockSizes(trx, byTry, cap.rowLocks);
  const rows: Array<{ log: LogChunk; part: StoredPart }> = [];
  const trims: Array<{ log: LogChunk; headBytes: number; before: number }> = [];
  const updated: Array<{ log: LogChunk; size: LogSize }> = [];
  const created: Array<{ log: LogChunk; size: LogSize }> = [];
  for (const log of byTry) {
    const known = sizes.get(`${log.request.tiId}|${log.request.tryNumber}`);
    const plan = planAppend(known ?? { writtenBytes: 0, headBytes: null }, log.text, cap.maxBytes);
    for (const part of plan.parts) rows.push({ log, part });
    if (plan.trimBefore !== null) trims.push({ log, headBytes: plan.size.headBytes!, before: plan.trimBefore });
    (known ? updated : created).push({ log, size: plan.size });
  }
  await insertChunks(trx, rows);
  for (const trim of trims) await trimTail(trx, trim.log.request, trim.headBytes, trim.before, cap.maxBytes);
  for (const { log, size } of updated) {
    await trx
      .updateTable("task_log_size")
      .set({ written_bytes: size.writtenBytes, head_bytes: size.headBytes })
      .where("ti_id", "=", log.request.tiId)
      .where("try_number", "=", log.request.tryNumber)
      .execute();
  }
  // A try's claim creates its size row (createLogSizes); a try without one (claimed before this
  // existed) gets it now. Should two such appends race, the primary key fails one transaction, which
  // its caller retries and which then finds the row.
  for (const part of chunks(created, 500)) {
    await trx
      .insertInto("task_log_size")
      .values(part.map(({ log, size }) => ({ ti_id: log.request.tiId, try_number: log.request.tryNumber, written_bytes: size.writtenBytes, head_bytes: size.headBytes })))
      .execute();
  }
}

type StoredPart = { offset: number | null; text: string };

/** Size rows for newly claimed tries, created with the claim, so that appends only lock existing rows. */
export async function createLogSizes(trx: Db, tries: Array<Pick<TryRequest, "tiId" | "tryNumber">>): Promise<void> {
  for (const part of chunks(tries, 500)) {
    await trx
      .insertInto("task_log_size")
      .values(part.map((t) => ({ ti_id: t.tiId, try_number: t.tryNumber, written_bytes: 0, head_bytes: null })))
      .execute();
  }
}

async function insertChunks(trx: Db, rows: Array<{ log: LogChunk; part: StoredPart }>): Promise<void> {
  for (const part of chunks(rows, 200)) {
    await trx
      .insertInto("task_log")
      .values(
        part.map(({ log, part: p }) => ({
          ti_id: log.request.tiId,
          try_number: log.request.tryNumber,
          dag_id: log.request.dagId,
          run_id: log.request.runId,
          task_id: log.request.taskId,
          map_index: log.request.mapIndex,
          chunk: p.text,
          log_offset: p.offset,
          created_at: log.at,
        })),
      )
      .execute();
  }
}

/**
 * The log sizes of the tries that have one, their rows locked until the transaction ends, by
 * "tiId|tryNumber". Each row is looked up by its whole key, so that MySQL locks only that row.
 */
async function lockSizes(trx: Db, logs: LogChunk[], rowLocks: boolean): Promise<Map<string, LogSize>> {
  const sizes = new Map<string, LogSize>();
  for (const part of chunks(logs, 200)) {
    const rows = await trx
      .selectFrom("task_log_size")
      .select(["ti_id", "try_number", "written_bytes", "head_bytes"])
      .where((eb) => eb.or(part.map((l) => eb.and([eb("ti_id", "=", l.request.tiId), eb("try_number", "=", l.request.tryNumber)]))))
      // One order for every appender, so that two of them never wait for each other's locks in a circle.
      .orderBy("ti_id")
      .orderBy("try_number")
      .$if(rowLocks, (q) => q.forUpdate())
      .execute();
    for (const row of rows) {
      sizes.set(`${row.ti_id}|${row.try_number}`, { writtenBytes: Number(row.written_bytes), headBytes: row.head_bytes === null ? null : Number(row.head_bytes) });
    }
  }
  return sizes;
}

/**
 * Drops the stored tail text of one try before offset `before` (the tail starts at `headBytes`): the
 * chunk that straddles `before` keeps its end, older tail chunks are deleted.
 */
async function trimTail(trx: Db, request: LogChunk["request"], headBytes: number, before: number, maxBytes: number): Promise<void> {
  const ofTail = () =>
    trx
      .selectFrom("task_log")
      .where("ti_id", "=", request.tiId)
      .where("try_number", "=", request.tryNumber)
      .where("log_offset", ">=", headBytes)
      .where("log_offset", "<", before);
  const straddler = await ofTail().select(["id", "chunk", "log_offset"]).orderBy("log_offset", "desc").limit(1).executeTakeFirst();
  const kept: LogPart | null = straddler ? keptPart(straddler.chunk, Number(straddler.log_offset), before, maxBytes) : null;
  if (straddler && kept) {
    await trx.updateTable("task_log").set({ chunk: kept.text, log_offset: kept.offset }).where("id", "=", straddler.id).execute();
  }
  await trx
    .deleteFrom("task_log")
    .where("ti_id", "=", request.tiId)
    .where("try_number", "=", request.tryNumber)
    .where("log_offset", ">=", headBytes)
    .where("log_offset", "<", before)
    .execute();
}

/** Where a reader of a try's log is: the last chunk read and the byte offset after it. */
export interface LogCursor {
  /** Id of the last chunk read; 0 before the first. */
  id: number;
  /** Byte offset in the whole log after that chunk; null when not known (a log written without a cap). */
  end: number | null;
  /** Whether the text read so far ends a line (a marker line then needs no newline before it). */
  atLineStart: boolean;
}

export const LOG_START: LogCursor = { id: 0, end: 0, atLineStart: true };

/**
 * A try's log text written after `cursor`, with a marker line wherever text was left out by the cap
 * (also text trimmed since the cursor's reader last looked), and the cursor after it.
 */
export async function readTryLogAfter(store: Store, tiId: number, tryNumber: number, cursor: LogCursor = LOG_START): Promise<{ text: string; cursor: LogCursor }> {
  const rows = await store.db
    .selectFrom("task_log")
    .select(["id", "chunk", "log_offset"])
    .where("ti_id", "=", tiId)
    .where("try_number", "=", tryNumber)
    .where("id", ">", cursor.id)
    .orderBy("id")
    .execute();
  let text = "";
  let at = cursor;
  for (const row of rows) {
    const offset = row.log_offset === null ? null : Number(row.log_offset);
    if (offset !== null && at.end !== null && offset > at.end) text += omittedMarker(offset - at.end, at.atLineStart);
    text += row.chunk;
    at = {
      id: row.id,
      end: offset === null ? null : offset + Buffer.byteLength(row.chunk, "utf8"),
      atLineStart: row.chunk === "" ? at.atLineStart : row.chunk.endsWith("\n"),
    };
  }
  return { text, cursor: at };
}

/** The whole log of one try (a marker line where the cap left text out), or null when it has none. */
export async function readTryLog(store: Store, tiId: number, tryNumber: number): Promise<string | null> {
  const { text, cursor } = await readTryLogAfter(store, tiId, tryNumber, LOG_START);
  return cursor.id === 0 ? null : text;
}

/** One log line as tries and the executor write it. */
export function logLine(level: "INFO" | "WARN" | "ERROR", message: string): string {
  return `${new Date().toISOString()} ${level} ${message}\n`;
}
