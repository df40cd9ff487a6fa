/** Callback requests: written in the transaction that records a state, run later by the callback runner. */
import type { Kysely, Transaction } from "kysely";
import type { CallbackRequestTable, Database } from "../store/schema.js";

type Db = Kysely<Database> | Transaction<Database>;

export type CallbackRequest = Pick<CallbackRequestTable, "kind" | "callback" | "dag_id" | "run_id" | "task_id"> & {
  /** What the callback's context is built from; stored as JSON. */
  context: Record<string, unknown>;
};

/** Queues a callback for the callback runner, pending until one claims it. */
export async function requestCallback(trx: Db, request: CallbackRequest, now: number): Promise<void> {
  await trx
    .insertInto("callback_request")
    .values({
      ...request,
      context: JSON.stringify(request.context),
      state: "pending",
      hostname: null,
      error: null,
      created_at: now,
      started_at: null,
      ended_at: null,
    })
    .execute();
}
