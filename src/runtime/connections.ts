/**
 * Connections: where and how to reach an external system (Airflow's Connection). The password and
 * the extra JSON are encrypted at rest.
 */
import type { Kysely, Selectable, Transaction } from "kysely";
import { NotFoundError, UsageError } from "../errors.js";
import type { ConnectionTable, Database } from "../store/schema.js";
import { isSensitiveName, MASK, maskSensitiveValues, type SecretBox } from "./secrets.js";
import type { ConnectionInfo } from "../dag/types.js";

type Db = Kysely<Database> | Transaction<Database>;

/** A connection as tasks see it (`ctx.connections.get(id)`). */
export type Connection = ConnectionInfo;

export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,250}$/;

export function checkConnId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new UsageError(`connection id ${JSON.stringify(id)} is invalid: use 1 to 250 letters, digits, '_', '.' or '-'`);
  }
}

/** Parses Airflow's connection URI form: `type://login:password@host:port/schema?extra_key=value`. */
export function parseConnectionUri(connId: string, uri: string): Connection {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UsageError(`--conn-uri ${JSON.stringify(uri)} is not a URI such as postgres://user:pass@host:5432/db`);
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of url.searchParams) extra[k] = v;
  const scheme = url.protocol.replace(/:$/, "").replace(/-/g, "_");
  return {
    connId,
    // Airflow's spelling: a "postgresql://" URI is a postgres connection.
    connType: scheme === "postgresql" ? "postgres" : scheme,
    host: url.hostname ? decodeURIComponent(url.hostname) : null,
    schema: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : null,
    login: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    port: url.port ? Number(url.port) : null,
    extra,
    description: null,
  };
}

export async function addConnection(db: Db, box: SecretBox, conn: Connection): Promise<void> {
  checkConnId(conn.connId);
  const existing = await db.selectFrom("connection").select("conn_id").where("conn_id", "=", conn.connId).executeTakeFirst();
  if (existing) throw new UsageError(`connection '${conn.connId}' already exists: delete it first with 'aloft connections delete ${conn.connId}'`);
  await db
    .insertInto("connection")
    .values({
      conn_id: conn.connId,
      conn_type: conn.connType,
      host: conn.host,
      schema: conn.schema,
      login: conn.login,
      password: conn.password === null ? null : box.encrypt(conn.password),
      port: conn.port,
      extra: Object.keys(conn.extra).length === 0 ? null : box.encrypt(JSON.stringify(conn.extra)),
      description: conn.description,
      updated_at: Date.now(),
    })
    .execute();
}

export async function findConnection(db: Db, box: SecretBox, connId: string): Promise<Connection | undefined> {
  const row = await db.selectFrom("connection").selectAll().where("conn_id", "=", connId).executeTakeFirst();
  return row ? decryptedConnection(box, row) : undefined;
}

/** A stored connection row with its password and extra decrypted. */
export function decryptedConnection(box: SecretBox, row: Selectable<ConnectionTable>): Connection {
  const what = `connection ${row.conn_id}`;
  return {
    connId: row.conn_id,
    connType: row.conn_type,
    host: row.host,
    schema: row.schema,
    login: row.login,
    password: row.password === null ? null : box.decrypt(row.password, what),
    port: row.port === null ? null : Number(row.port),
    extra: row.extra === null ? {} : (JSON.parse(box.decrypt(row.extra, what)) as Record<string, unknown>),
    description: row.description,
  };
}

export async function deleteConnection(db: Db, connId: string): Promise<void> {
  const result = await db.deleteFrom("connection").where("conn_id", "=", connId).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`connection '${connId}' does not exist: see 'aloft connections list'`);
}

/** The connection with its password and the sensitive extra values replaced by "***", for output. */
export function maskedConnection(conn: Connection): Connection {
  return { ...conn, password: conn.password === null ? null : MASK, extra: maskSensitiveValues(conn.extra) as Record<string, unknown> };
}

/** The values of a connection that must never appear in logs: its password and sensitive extras. */
export function connectionSecrets(conn: Connection): string[] {
  const out: string[] = [];
  if (conn.password) out.push(conn.password);
  for (const [k, v] of Object.entries(conn.extra)) if (isSensitiveName(k) && typeof v === "string") out.push(v);
  return out;
}
