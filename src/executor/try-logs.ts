/**
 * Task try logs in the DB. Runners send log text to their executor, which appends it in batches:
 * with the try's outcome when it ends, and every LOG_FLUSH_MS while it runs, so a running try's log
 * can be followed from any node.
 */
import type { Kysely, Transaction } from "kysely";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { chunks } from "../util/chunks.js";
import type { TryRequest } from "./protocol.js";

type Db = Kysely<Database> | Transaction<Database>;

export const LOG_FLUSH_MS = 250;

export interface LogChunk {
  request: Pick<TryRequest, "tiId" | "tryNumber" | "dagId" | "runId" | "taskId" | "mapIndex">;
  text: string;
  at: number;
}

export async function appendTryLogs(db: Db, logs: LogChunk[]): Promise<void> {
  for (const part of chunks(logs, 200)) {
    await db
      .insertInto("task_log")
      .values(
        part.map((l) => ({
          ti_id: l.request.tiId,
          try_number: l.request.tryNumber,
          dag_id: l.request.dagId,
          run_id: l.request.runId,
          task_id: l.request.taskId,
          map_index: l.request.mapIndex,
          chunk: l.text,
          created_at: l.at,
        })),
      )
      .execute();
  }
}

/** Log chunks of one try written after chunk `afterId`, in order. */
export async function readTryLogAfter(store: Store, tiId: number, tryNumber: number, afterId: number) {
  return store.db
    .selectFrom("task_log")
    .select(["id", "chunk"])
    .where("ti_id", "=", tiId)
    .where("try_number", "=", tryNumber)
    .where("id", ">", afterId)
    .orderBy("id")
    .execute();
}

/** The whole log of one try, or null when it has none. */
export async function readTryLog(store: Store, tiId: number, tryNumber: number): Promise<string | null> {
  const rows = await store.db
    .selectFrom("task_log")
    .select("chunk")
    .where("ti_id", "=", tiId)
    .where("try_number", "=", tryNumber)
    .orderBy("id")
    .execute();
  return rows.length === 0 ? null : rows.map((r) => r.chunk).join("");
}

/** One log line as tries and the executor write it. */
export function logLine(level: "INFO" | "WARN" | "ERROR", message: string): string {
  return `${new Date().toISOString()} ${level} ${message}\n`;
}
