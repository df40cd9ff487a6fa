/**
 * The size cap of one try's log (config task_log_max_bytes): the first half of the cap is kept as the
 * head, the latest half as the tail, and what falls between is dropped. This module decides, for a
 * piece of text appended at a known position, what is stored where; try-logs.ts applies it in the DB.
 *
 * Positions are byte offsets in the try's whole log as it was written (omitted bytes included), so
 * a reader sees a gap between two stored chunks exactly where text was left out, and how much.
 */

/** Where a try's log stands: bytes written so far, and where the head ends once it is full. */
export interface LogSize {
  /** Bytes written to the try's log so far, kept or not. */
  writtenBytes: number;
  /** Size of the head once it is full (text after it belongs to the tail); null while it is not. */
  headBytes: number | null;
}

/** One piece of text to store, at its byte offset in the try's whole log. */
export interface LogPart {
  offset: number;
  text: string;
}

export interface AppendPlan {
  parts: LogPart[];
  size: LogSize;
  /**
   * When set, stored tail text before this offset (and from `size.headBytes` on) no longer fits the
   * cap: whole chunks there are deleted, and a chunk that straddles it loses its start.
   */
  trimBefore: number | null;
}

/** How far a cut may move to land just after a newline, so that kept text starts and ends with whole lines. */
function lineSlack(maxBytes: number): number {
  return Math.min(1024, Math.floor(maxBytes / 16));
}

/** Whether byte `b` continues a UTF-8 character (a cut must not fall before it). */
function isContinuation(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

/**
 * Where to end a kept prefix of `buf` of at most `limit` bytes: just after a newline when one is within
 * `slack` bytes of the limit, else at the limit moved back to the start of a UTF-8 character.
 */
export function prefixCut(buf: Buffer, limit: number, slack: number): number {
  if (limit >= buf.length) return buf.length;
  if (limit <= 0) return 0;
  const newline = buf.lastIndexOf(0x0a, limit - 1);
  if (newline !== -1 && newline + 1 >= limit - slack) return newline + 1;
  let cut = limit;
  while (cut > 0 && isContinuation(buf[cut])) cut--;
  return cut;
}

/**
 * How many leading bytes of `buf` to drop, at least `need`: up to just after a newline when one is
 * within `slack` bytes, else `need` moved forward to the start of a UTF-8 character.
 */
export function dropCut(buf: Buffer, need: number, slack: number): number {
  if (need <= 0) return 0;
  if (need >= buf.length) return buf.length;
  const newline = buf.indexOf(0x0a, need - 1);
  if (newline !== -1 && newline + 1 - need <= slack) return newline + 1;
  let cut = need;
  while (cut < buf.length && isContinuation(buf[cut])) cut++;
  return cut;
}

/** What storing `text` at the end of a try's log means under a cap of `maxBytes` (> 0). */
export function planAppend(size: LogSize, text: string, maxBytes: number): AppendPlan {
  const buf = Buffer.from(text, "utf8");
  const slack = lineSlack(maxBytes);
  const parts: LogPart[] = [];
  let { writtenBytes, headBytes } = size;
  let rest = buf;
  let restOffset = writtenBytes;
  if (headBytes === null) {
    const room = Math.floor(maxBytes / 2) - writtenBytes;
    if (buf.length <= room) {
      if (buf.length > 0) parts.push({ offset: writtenBytes, text });
      return { parts, size: { writtenBytes: writtenBytes + buf.length, headBytes: null }, trimBefore: null };
    }
    // This text fills the head: its start ends the head, the rest begins the tail.
    const cut = prefixCut(buf, room, slack);
    if (cut > 0) parts.push({ offset: writtenBytes, text: buf.subarray(0, cut).toString("utf8") });
    headBytes = writtenBytes + cut;
    rest = buf.subarray(cut);
    restOffset = headBytes;
  }
  const tailLimit = maxBytes - headBytes;
  writtenBytes = restOffset + rest.length;
  if (rest.length > tailLimit) {
    // The new text alone is over the tail's size: only its end is stored.
    const drop = dropCut(rest, rest.length - tailLimit, slack);
    rest = rest.subarray(drop);
    restOffset += drop;
  }
  if (rest.length > 0) parts.push({ offset: restOffset, text: rest.toString("utf8") });
  const tailStart = writtenBytes - tailLimit;
  return { parts, size: { writtenBytes, headBytes }, trimBefore: tailStart > headBytes ? tailStart : null };
}

/**
 * A stored tail chunk at `offset` when nothing before `before` may stay: the part of it that is kept
 * (its start dropped), or null when none of it is.
 */
export function keptPart(chunk: string, offset: number, before: number, maxBytes: number): LogPart | null {
  const buf = Buffer.from(chunk, "utf8");
  if (offset + buf.length <= before) return null;
  const drop = dropCut(buf, before - offset, lineSlack(maxBytes));
  return drop >= buf.length ? null : { offset: offset + drop, text: buf.subarray(drop).toString("utf8") };
}

/** The line readers see where `bytes` of a try's log were left out. */
export function omittedMarker(bytes: number, atLineStart: boolean): string {
  return `${atLineStart ? "" : "\n"}[... ${bytes} bytes of this try's log left out here: over task_log_max_bytes, the first and the last part are kept ...]\n`;
}
