/** What differs between the three dialects, kept in one place per dialect. */
import type { ColumnDataType, Expression, Kysely, RawBuilder, Transaction } from "kysely";
import type { Database } from "../schema.js";
import type { DialectName } from "../url.js";

export interface DialectSupport {
  name: DialectName;
  db: Kysely<Database>;
  /** The database's clock in epoch milliseconds: the only clock leases and heartbeats trust. */
  nowMs(): RawBuilder<number>;
  /** Column type for large text (serialized DAGs, logs, XCom values). */
  longText: ColumnDataType | Expression<unknown>;
  /** Column type for auto-increment primary keys. */
  serialType: "integer" | "bigserial" | "bigint";
  /**
   * Runs `fn` in a write transaction. SQLite takes the write lock up front (BEGIN IMMEDIATE) so that
   * concurrent processes wait on busy_timeout instead of failing on a lock upgrade.
   */
  transaction<T>(fn: (trx: Transaction<Database> | Kysely<Database>) => Promise<T>): Promise<T>;
  /** Whether `SELECT … FOR UPDATE` is understood (not by SQLite, whose transactions are serialized). */
  supportsRowLocks: boolean;
  close(): Promise<void>;
}
