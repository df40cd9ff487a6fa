/**
 * The controller's own connection to the metadata DB. Leadership is tied to it: the leader holds a
 * session-level advisory lock on it, which the DB frees the moment the leader's process dies, so a
 * standby notices a crashed leader in a poll instead of waiting for its lease to expire. When the
 * connection drops, the controller learns at once (`onLost`) and stops its child.
 *
 * SQLite has no sessions: there the lease's expiry is the only way to notice a dead leader.
 */
import crypto from "node:crypto";
import { Kysely, MysqlDialect, PostgresDialect, sql } from "../store/kysely.js";
import { createConnection } from "mysql2";
import pg from "pg";
import { MYSQL_OPTIONS, mysqlSupport } from "../store/dialects/mysql.js";
import { PG_TYPES, postgresSupport } from "../store/dialects/postgres.js";
import type { Database } from "../store/schema.js";
import { openStore, type Store } from "../store/db.js";
import { parseDatabaseUrl } from "../store/url.js";

export interface HaSession {
  /** The DB through this one connection (SQLite: the ordinary store). */
  store: Store;
  /** The DB's id of this connection; null on SQLite. */
  id: string | null;
  /** Takes the cluster's advisory lock on this connection; false when another session holds it. */
  tryLock(): Promise<boolean>;
  /** Lets go of the advisory lock (when this node stops leading but keeps its connection). */
  unlock(): Promise<void>;
  /** The session holding the cluster's advisory lock, or null when none does (SQLite: always "unknown"). */
  lockHolder(): Promise<string | null | "unknown">;
  /** Ends another session (one the DB still thinks holds the lock after its lease expired). */
  terminate(sessionId: string): Promise<void>;
  /**
   * Ends the sessions that block this one's pending statement (the deposed leader's transactions still
   * holding the lease row, for example after its host died mid-transaction), through a connection of
   * its own; returns their ids.
   */
  endBlockers(): Promise<string[]>;
  /** Drops the connection at once (a query the DB never answers): `onLost` follows. */
  abandon(): void;
  /** Called once if the connection drops. */
  onLost(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

/**
 * `lockTimeoutMs`: the DB itself gives up a statement waiting this long for a lock, so that a statement
 * the controller stopped waiting for cannot commit later (a takeover nobody knows it made).
 */
export async function openHaSession(url: string, cluster: string, lockTimeoutMs: number): Promise<HaSession> {
  const dialect = parseDatabaseUrl(url).dialect;
  if (dialect === "postgres") return openPostgresSession(url, cluster, lockTimeoutMs);
  if (dialect === "mysql") return openMysqlSession(url, cluster, lockTimeoutMs);
  const store = await openStore(url, { poolSize: 1 });
  return {
    store,
    id: null,
    tryLock: async () => true,
    unlock: async () => undefined,
    lockHolder: async () => "unknown",
    terminate: async () => undefined,
    endBlockers: async () => [],
    abandon: () => undefined,
    onLost: () => undefined,
    close: () => store.close(),
  };
}

/** Makes `listener` hear about the first loss only, however many error and end events follow. */
function lossNotifier(): { notify(error: Error): void; add(listener: (error: Error) => void): void } {
  const listeners: Array<(error: Error) => void> = [];
  let lost: Error | null = null;
  return {
    notify(error) {
      if (lost) return;
      lost = error;
      for (const l of listeners) l(error);
    },
    add(listener) {
      if (lost) listener(lost);
      else listeners.push(listener);
    },
  };
}

/**
 * Two positive 31-bit halves of a key derived from the cluster name (pg_locks shows them as classid/objid)
 * and, for MySQL, whose lock names are server-wide, the database's name.
 */
function advisoryKey(cluster: string, database = ""): [number, number] {
  const hash = crypto.createHash("sha256").update(`aloft-ha:${database}:${cluster}`).digest();
  return [hash.readUInt32BE(0) & 0x7fffffff, hash.readUInt32BE(4) & 0x7fffffff];
}

async function openPostgresSession(url: string, cluster: string, lockTimeoutMs: number): Promise<HaSession> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, types: PG_TYPES, keepAlive: true });
  const loss = lossNotifier();
  client.on("error", (error) => loss.notify(error));
  client.on("end", () => loss.notify(new Error("the connection to PostgreSQL closed")));
  await client.connect();
  await client.query(`set lock_timeout = ${Math.round(lockTimeoutMs)}`);
  // Kysely borrows and returns the one client; releasing must not end it.
  const borrowed = Object.assign(client, { release: () => undefined });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: { connect: async () => borrowed, end: () => client.end() } }) });
  const [high, low] = advisoryKey(cluster);
  const key = BigInt(high) * 2n ** 32n + BigInt(low);
  const id = String((await client.query<{ id: number }>("select pg_backend_pid() as id")).rows[0]!.id);
  return {
    store: postgresSupport(db),
    id,
    async tryLock() {
      const { rows } = await client.query<{ ok: boolean }>("select pg_try_advisory_lock($1::bigint) as ok", [key.toString()]);
      return rows[0]!.ok;
    },
    async unlock() {
      await client.query("select pg_advisory_unlock($1::bigint)", [key.toString()]);
    },
    async lockHolder() {
      const { rows } = await client.query<{ pid: number }>(
        // Advisory locks belong to a database: another deployment on the same server has its own.
        "select pid from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database()) " +
          "and classid::bigint = $1 and objid::bigint = $2 and objsubid = 1 and granted",
        [high, low],
      );
      return rows[0] ? String(rows[0].pid) : null;
    },
    async terminate(sessionId) {
      await client.query("select pg_terminate_backend($1::int)", [Number(sessionId)]);
    },
    async endBlockers() {
      const side = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
      await side.connect();
      try {
        const { rows } = await side.query<{ pid: number }>(
          // Only sessions holding the row, not other standbys queued for it (those wait like us).
          "select b as pid, pg_terminate_backend(b) from unnest(pg_blocking_pids($1::int)) b " +
            "where not exists (select 1 from pg_locks l where l.pid = b and not l.granted)",
          [Number(id)],
        );
        return rows.map((r) => String(r.pid));
      } finally {
        await side.end();
      }
    },
    abandon() {
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      loss.notify(new Error("the metadata DB did not answer in time"));
    },
    onLost: (listener) => loss.add(listener),
    close: () => db.destroy(),
  };
}

async function openMysqlSession(url: string, cluster: string, lockTimeoutMs: number): Promise<HaSession> {
  const connection = createConnection({ uri: url, ...MYSQL_OPTIONS, enableKeepAlive: true });
  const loss = lossNotifier();
  connection.on("error", (error: Error) => loss.notify(error));
  connection.on("end", () => loss.notify(new Error("the connection to MySQL closed")));
  await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
  const borrowed = Object.assign(connection, { release: () => undefined });
  const db = new Kysely<Database>({
    dialect: new MysqlDialect({
      pool: {
        getConnection: (callback: (error: unknown, connection: typeof borrowed) => void) => callback(null, borrowed),
        end: (callback: (error: unknown) => void) => connection.end(callback),
      } as never,
    }),
  });
  const store = mysqlSupport(db);
  await sql`set session innodb_lock_wait_timeout = ${sql.raw(String(Math.max(1, Math.floor(lockTimeoutMs / 1000))))}`.execute(db);
  const me = (await sql<{ id: number; db: string | null }>`select connection_id() as id, database() as db`.execute(db)).rows[0]!;
  const id = String(me.id);
  const lockName = `aloft-ha:${advisoryKey(cluster, me.db ?? "").join(":")}`;
  return {
    store,
    id,
    async tryLock() {
      const { rows } = await sql<{ ok: number | null }>`select get_lock(${lockName}, 0) as ok`.execute(db);
      return Number(rows[0]?.ok) === 1;
    },
    async unlock() {
      await sql`select release_lock(${lockName})`.execute(db);
    },
    async lockHolder() {
      const { rows } = await sql<{ holder: number | null }>`select is_used_lock(${lockName}) as holder`.execute(db);
      const holder = rows[0]?.holder;
      return holder === null || holder === undefined ? null : String(holder);
    },
    async terminate(sessionId) {
      await sql`kill ${sql.raw(String(Number(sessionId)))}`.execute(db);
    },
    async endBlockers() {
      const side = createConnection({ uri: url, ...MYSQL_OPTIONS });
      const query = <T>(text: string, values: unknown[] = []) =>
        new Promise<T[]>((resolve, reject) => side.query(text, values, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
      try {
        const rows = await query<{ thread: number }>(
          "select distinct b.trx_mysql_thread_id as thread from information_schema.innodb_lock_waits w " +
            "join information_schema.innodb_trx b on b.trx_id = w.blocking_trx_id " +
            "join information_schema.innodb_trx r on r.trx_id = w.requesting_trx_id " +
            "where r.trx_mysql_thread_id = ? and b.trx_state <> 'LOCK WAIT'",
          [Number(id)],
        );
        for (const row of rows) await query(`kill ${Number(row.thread)}`);
        return rows.map((r) => String(r.thread));
      } finally {
        side.destroy();
      }
    },
    abandon() {
      connection.destroy();
      loss.notify(new Error("the metadata DB did not answer in time"));
    },
    onLost: (listener) => loss.add(listener),
    close: () => db.destroy(),
  };
}
