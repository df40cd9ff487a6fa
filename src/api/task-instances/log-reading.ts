/**
 * A try's log as Airflow's get_log answers it: lines as StructuredLogMessage, and while the try runs
 * a continuation token to read what it writes next. The token is readTryLogAfter's cursor with the
 * try it belongs to, as base64url JSON: opaque to clients, and nothing to forge, since it only moves
 * a reader within a log the reader may read whole anyway.
 */
import { LOG_START, readTryLogAfter, type LogCursor } from "../../executor/try-logs.js";
import type { Store } from "../../store/db.js";
import { badRequest } from "../problems.js";

export interface LogRead {
  text: string;
  /** Where to read on from; null once the try has ended and everything it wrote was read. */
  token: string | null;
}

/** The log of a try from `token` (from the start without one). */
export async function readLog(store: Store, tiId: number, tryNumber: number, token: string | undefined): Promise<LogRead> {
  const from = token === undefined ? LOG_START : decodeToken(token, tiId, tryNumber);
  // Whether the try ended is read before its log: the last chunks are written with the outcome, so none is missed.
  const row = await store.db.selectFrom("task_try").select("state").where("ti_id", "=", tiId).where("try_number", "=", tryNumber).executeTakeFirst();
  const read = await readTryLogAfter(store, tiId, tryNumber, from);
  return { text: read.text, token: row?.state === "running" ? encodeToken(tiId, tryNumber, read.cursor) : null };
}

interface TokenBody {
  ti: number;
  try: number;
  at: LogCursor;
}

function encodeToken(tiId: number, tryNumber: number, cursor: LogCursor): string {
  const body: TokenBody = { ti: tiId, try: tryNumber, at: cursor };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function decodeToken(token: string, tiId: number, tryNumber: number): LogCursor {
  let body: Partial<TokenBody> | undefined;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Partial<TokenBody>;
  } catch {
    body = undefined;
  }
  const at = body?.at;
  const valid =
    typeof at === "object" &&
    at !== null &&
    Number.isInteger(at.id) &&
    (at.end === null || Number.isInteger(at.end)) &&
    typeof at.atLineStart === "boolean";
  if (!valid) throw badRequest("the continuation token is not valid: send back only a continuation_token this endpoint gave");
  if (body?.ti !== tiId || body.try !== tryNumber) throw badRequest("the continuation token belongs to another try's log: send it with the URL it came from");
  return { id: at.id, end: at.end, atLineStart: at.atLineStart };
}

export interface LogMessage {
  event: string;
  timestamp?: string;
  level?: string;
}

// Aloft's own lines: "2026-01-05T00:00:00.000Z INFO message" (see logLine); what tasks print has no prefix.
const ALOFT_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (INFO|WARN|ERROR) (.*)$/s;
const LEVELS: Record<string, string> = { INFO: "info", WARN: "warning", ERROR: "error" };

/**
 * One message a line. A line a running try has only partly written yet comes as a message now and
 * its rest as another in the next read: the cursor moves by whole chunks.
 */
export function logMessages(text: string): LogMessage[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => {
    const match = ALOFT_LINE.exec(line);
    return match ? { timestamp: match[1]!, level: LEVELS[match[2]!]!, event: match[3]! } : { event: line };
  });
}
