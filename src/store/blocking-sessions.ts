/**
 * Finding and ending the DB sessions that block another one. A process stopped or cut off in the
 * middle of a transaction (a deposed leader's scheduler frozen by SIGSTOP, a host gone dark) keeps its
 * row locks until the DB drops its connection, which can take hours; whoever waits on them ends them.
 */
import type { RawBuilder } from "kysely";
import type { Store } from "./db.js";
import { sql } from "./kysely.js";

/** SQL for the id of the DB session a query runs on (PostgreSQL's backend pid, MySQL's connection id); null on SQLite. */
export function sessionIdSql(store: Store): RawBuilder<number | null> {
  return store.name === "postgres" ? sql`pg_backend_pid()` : store.name === "mysql" ? sql`connection_id()` : sql`null`;
}

/**
 * Ends the sessions holding a lock that session `id` waits for, and returns their ids. Sessions that
 * only queue for the same lock, as `id` does, are left alone.
 */
export async function endSessionsBlocking(store: Store, id: string): Promise<string[]> {
  if (store.name === "postgres") {
    const { rows } = await sql<{ pid: number }>`select b as pid, pg_terminate_backend(b) from unnest(pg_blocking_pids(${Number(id)}::int)) b
      where not exists (select 1 from pg_locks l where l.pid = b and not l.granted)`.execute(store.db);
    return rows.map((r) => String(r.pid));
  }
  if (store.name === "mysql") {
    // A blocker that waits itself still holds what blocks us when the lock it blocks with is not the one it waits for.
    const { rows } = await sql<{ thread: number }>`select distinct b.trx_mysql_thread_id as thread from information_schema.innodb_lock_waits w
      join information_schema.innodb_trx b on b.trx_id = w.blocking_trx_id
      join information_schema.innodb_trx r on r.trx_id = w.requesting_trx_id
      where r.trx_mysql_thread_id = ${Number(id)} and (b.trx_state <> 'LOCK WAIT' or b.trx_requested_lock_id <> w.blocking_lock_id)`.execute(store.db);
    for (const row of rows) await sql`kill ${sql.raw(String(Number(row.thread)))}`.execute(store.db);
    return rows.map((r) => String(r.thread));
  }
  return [];
}
