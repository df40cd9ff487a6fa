/**
 * A try's log, followed live while the try runs: the first read takes the whole log, then every
 * second the continuation token asks only for what was written since, which is appended. The view
 * stays at the bottom while the reader is there, and stops asking once the API says the try ended
 * and everything was read (a null token).
 */
import type { VNode } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, messageOf } from "../../api.js";
import { taskPath, type InstanceRef } from "./types.js";

/** Airflow's StructuredLogMessage, as the API sends it: Aloft's own lines have a time and a level, what tasks print has neither. */
interface LogMessage {
  event: string;
  timestamp?: string;
  level?: string;
}
interface LogRead {
  content: LogMessage[];
  continuation_token: string | null;
}

const TAIL_EVERY_MS = 1000;
/** After a failed read while following, wait longer before asking again. */
const RETRY_AFTER_MS = 3000;
/** How close to the bottom (in pixels) counts as "at the bottom". */
const BOTTOM_SLACK = 12;

type Status = "loading" | "following" | "ended";

export function LogView({ instance, tryNumber }: { instance: InstanceRef; tryNumber: number }) {
  // Each read becomes one chunk, made once: the log grows by appending, never by rendering it all again.
  const [chunks, setChunks] = useState<VNode[]>([]);
  const [status, setStatus] = useState<Status>("loading");
  const [error, setError] = useState<string>();
  const pre = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  const { dagId, runId, taskId, mapIndex } = instance;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setChunks([]);
    setStatus("loading");
    setError(undefined);
    atBottom.current = true;
    const path = `${taskPath(instance)}/logs/${tryNumber}`;
    const readAgain = (token: string, afterMs: number) => {
      timer = setTimeout(() => void read(token), afterMs);
    };
    const read = async (token: string | undefined) => {
      // A hidden tab waits; following resumes where it left off when the tab shows again.
      if (token !== undefined && document.hidden) return readAgain(token, TAIL_EVERY_MS);
      try {
        const log = await api<LogRead>(path, { query: { map_index: mapIndex, full_content: token === undefined ? true : undefined, token } });
        if (stopped) return;
        setError(undefined);
        if (log.content.length > 0) setChunks((all) => [...all, <LogChunk key={all.length} lines={log.content} />]);
        if (log.continuation_token === null) return setStatus("ended");
        setStatus("following");
        readAgain(log.continuation_token, TAIL_EVERY_MS);
      } catch (e) {
        if (stopped) return;
        setError(messageOf(e));
        if (token === undefined) setStatus("ended");
        else readAgain(token, RETRY_AFTER_MS);
      }
    };
    void read(undefined);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [dagId, runId, taskId, mapIndex, tryNumber]);

  // After new text, follow it down if the reader was at the bottom.
  useLayoutEffect(() => {
    const box = pre.current;
    if (box && atBottom.current) box.scrollTop = box.scrollHeight;
  }, [chunks]);

  const onScroll = () => {
    const box = pre.current;
    if (box) atBottom.current = box.scrollTop + box.clientHeight >= box.scrollHeight - BOTTOM_SLACK;
  };

  return (
    <div class="log-view">
      <div class="log-status muted" data-testid="log-status" data-status={status}>
        {status === "loading" && "Loading the log…"}
        {status === "following" && (
          <>
            <span class="live-dot" /> Following the log of try {tryNumber} while it runs
          </>
        )}
        {status === "ended" && !error && `End of the log of try ${tryNumber}`}
      </div>
      {error && <div class="error">{error}</div>}
      <pre class="log" data-testid="task-log" ref={pre} onScroll={onScroll}>
        {chunks}
        {status !== "loading" && chunks.length === 0 && !error && <span class="muted">{status === "following" ? "Nothing written yet…" : "This try wrote no log."}</span>}
      </pre>
    </div>
  );
}

const LEVEL_NAMES: Record<string, string> = { info: "INFO", warning: "WARN", error: "ERROR" };

function lineText(message: LogMessage): string {
  if (!message.timestamp) return `${message.event}\n`;
  return `${message.timestamp} ${LEVEL_NAMES[message.level ?? ""] ?? (message.level ?? "").toUpperCase()} ${message.event}\n`;
}

/** One read's lines: runs of plain lines as one text, warnings and errors in their colours. */
function LogChunk({ lines }: { lines: LogMessage[] }) {
  const parts: (string | VNode)[] = [];
  let plain = "";
  lines.forEach((line, i) => {
    if (line.level === "error" || line.level === "warning") {
      if (plain) parts.push(plain);
      plain = "";
      parts.push(
        <span key={i} class={`log-${line.level}`}>
          {lineText(line)}
        </span>,
      );
    } else {
      plain += lineText(line);
    }
  });
  if (plain) parts.push(plain);
  return <>{parts}</>;
}
