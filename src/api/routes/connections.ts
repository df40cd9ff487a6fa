/**
 * `/api/v2/connections`: list, get, create, change and delete, in the shapes of Airflow's
 * ConnectionResponse. Connections are stored as `aloft connections add` stores them (password and
 * extra encrypted). A viewer may read connections, so no response ever carries a password (it is
 * null, not even masked), and extra fields whose names look secret are masked.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { logEvent, type Actor } from "../../operations/context.js";
import { addConnection, decryptedConnection, deleteConnection, findConnection, ID_PATTERN, maskedConnection, type Connection } from "../../runtime/connections.js";
import type { SecretBox } from "../../runtime/secrets.js";
import type { Store } from "../../store/db.js";
import { longText, patches, refuseTeam, teamName, updateMaskQuery } from "../fields.js";
import { matchingPattern, page, pagingQuery, type PagingParams } from "../pagination.js";
import { badRequest, conflict, invalidField, notFound } from "../problems.js";

const idParam = { type: "object", required: ["connection_id"], properties: { connection_id: { type: "string", minLength: 1, maxLength: 250 } } } as const;
type IdParam = { connection_id: string };

interface ListQuery extends PagingParams {
  connection_id_pattern?: string;
}

const listQuery = { type: "object", additionalProperties: false, properties: { ...pagingQuery, connection_id_pattern: { type: "string", maxLength: 250 } } } as const;

// Connections have no id in Aloft: Airflow's default order (by id) is by connection id.
const ORDER_COLUMNS = { id: "conn_id", connection_id: "conn_id", conn_id: "conn_id", conn_type: "conn_type", description: "description", host: "host", port: "port" };

interface ConnectionBody {
  connection_id: string;
  conn_type: string;
  description?: string | null;
  host?: string | null;
  login?: string | null;
  schema?: string | null;
  port?: number | null;
  password?: string | null;
  /** A JSON object, as text (Airflow's form). */
  extra?: string | null;
  team_name?: string | null;
}

const hostLike = { type: ["string", "null"], maxLength: 500 } as const;

/** Airflow's ConnectionBody, with the limits of Aloft's columns and of `aloft connections add`. */
const connectionBody = {
  type: "object",
  required: ["connection_id", "conn_type"],
  additionalProperties: false,
  properties: {
    connection_id: { type: "string", pattern: ID_PATTERN.source },
    conn_type: { type: "string", minLength: 1, maxLength: 250 },
    description: longText,
    host: hostLike,
    login: hostLike,
    schema: hostLike,
    port: { type: ["integer", "null"], minimum: 1, maximum: 65535 },
    password: longText,
    extra: longText,
    team_name: teamName,
  },
} as const;

const PATCH_FIELDS = ["connection_id", "conn_type", "description", "host", "login", "schema", "port", "password", "extra", "team_name"];

const actorOf = (request: FastifyRequest): Actor => ({ owner: request.user!.username });

export function registerConnectionRoutes(app: FastifyInstance, store: Store, box: SecretBox): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/connections", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const query = matchingPattern(store.db.selectFrom("connection"), "conn_id", request.query.connection_id_pattern);
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), request.query, ORDER_COLUMNS, "id", "conn_id").execute();
    return { connections: rows.map((row) => connectionResponse(decryptedConnection(box, row))), total_entries: Number(total.n) };
  });

  app.get<{ Params: IdParam }>("/api/v2/connections/:connection_id", { config: { access: "viewer" }, schema: { params: idParam } }, async (request) =>
    connectionResponse(await requireConnection(store, box, request.params.connection_id)),
  );

  app.post<{ Body: ConnectionBody }>("/api/v2/connections", { config: { access: "op" }, schema: { body: connectionBody } }, async (request, reply) => {
    const body = request.body;
    refuseTeam(body);
    const conn: Connection = {
      connId: body.connection_id,
      connType: body.conn_type,
      host: body.host ?? null,
      schema: body.schema ?? null,
      login: body.login ?? null,
      password: body.password ?? null,
      port: body.port ?? null,
      extra: parseExtra(body.extra),
      description: body.description ?? null,
    };
    await store.transaction(async (trx) => {
      // addConnection refuses an existing id too, but as a usage error (400): the API's answer is a 409.
      const existing = await trx.selectFrom("connection").select("conn_id").where("conn_id", "=", conn.connId).executeTakeFirst();
      if (existing) throw conflict(`connection '${conn.connId}' already exists: change it with PATCH /api/v2/connections/${conn.connId}`);
      await addConnection(trx, box, conn);
      await logEvent(trx, actorOf(request), "connection.add", {}, conn.connId);
    });
    return reply.code(201).send(connectionResponse(await requireConnection(store, box, conn.connId)));
  });

  app.patch<{ Params: IdParam; Querystring: { update_mask?: string[] }; Body: ConnectionBody }>(
    "/api/v2/connections/:connection_id",
    { config: { access: "op" }, schema: { params: idParam, querystring: updateMaskQuery(PATCH_FIELDS), body: connectionBody } },
    async (request) => {
      const connId = request.params.connection_id;
      const body = request.body;
      if (body.connection_id !== connId) {
        throw badRequest(`the body's connection_id '${body.connection_id}' is not the connection of the path, '${connId}': connections cannot be renamed`);
      }
      refuseTeam(body);
      // A field the body leaves out (or update_mask does not name) keeps its value: the password too.
      const changes = (field: keyof ConnectionBody) => patches(body, request.query.update_mask, field);
      await store.transaction(async (trx) => {
        const current = await requireConnection(store, box, connId, trx);
        const next: Connection = {
          ...current,
          connType: changes("conn_type") ? body.conn_type : current.connType,
          description: changes("description") ? (body.description ?? null) : current.description,
          host: changes("host") ? (body.host ?? null) : current.host,
          login: changes("login") ? (body.login ?? null) : current.login,
          schema: changes("schema") ? (body.schema ?? null) : current.schema,
          port: changes("port") ? (body.port ?? null) : current.port,
          password: changes("password") ? (body.password ?? null) : current.password,
          extra: changes("extra") ? parseExtra(body.extra) : current.extra,
        };
        // Stored again the one way connections are stored (addConnection encrypts), in one transaction.
        await deleteConnection(trx, connId);
        await addConnection(trx, box, next);
        await logEvent(trx, actorOf(request), "connection.update", {}, connId);
      });
      return connectionResponse(await requireConnection(store, box, connId));
    },
  );

  app.delete<{ Params: IdParam }>("/api/v2/connections/:connection_id", { config: { access: "op" }, schema: { params: idParam } }, async (request, reply) => {
    const connId = request.params.connection_id;
    await store.transaction(async (trx) => {
      await deleteConnection(trx, connId);
      await logEvent(trx, actorOf(request), "connection.delete", {}, connId);
    });
    return reply.code(204).send();
  });
}

async function requireConnection(store: Store, box: SecretBox, connId: string, db = store.db): Promise<Connection> {
  const conn = await findConnection(db, box, connId);
  if (!conn) throw notFound(`connection '${connId}' was not found: GET /api/v2/connections lists the connections there are`);
  return conn;
}

/** Airflow's `extra`: a JSON object as text; empty (or null) is none. Anything else is a 422 at the field, as in Airflow. */
function parseExtra(text: string | null | undefined): Record<string, unknown> {
  if (text == null || text === "") return {};
  let extra: unknown;
  try {
    extra = JSON.parse(text);
  } catch {
    extra = undefined;
  }
  if (extra === null || typeof extra !== "object" || Array.isArray(extra)) {
    throw invalidField(["body", "extra"], 'extra must be a JSON object as text, such as "{\\"timeout\\": 30}"');
  }
  return extra as Record<string, unknown>;
}

function connectionResponse(conn: Connection) {
  const shown = maskedConnection(conn);
  return {
    connection_id: shown.connId,
    conn_type: shown.connType,
    description: shown.description,
    host: shown.host,
    login: shown.login,
    schema: shown.schema,
    port: shown.port,
    // Never the password, not even masked as Airflow does ("***"): null whether or not one is set.
    password: null,
    extra: Object.keys(shown.extra).length === 0 ? null : JSON.stringify(shown.extra),
    team_name: null,
  };
}
