import type { Command } from "commander";
import { NotFoundError, UsageError } from "../../errors.js";
import {
  addConnection,
  deleteConnection,
  findConnection,
  maskedConnection,
  parseConnectionUri,
  type Connection,
} from "../../runtime/connections.js";
import { SecretBox } from "../../runtime/secrets.js";
import { logEvent } from "../../operations/context.js";
import { CLI_ACTOR, parseJsonObjectFlag, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

type JsonFlag = GlobalFlags & { json?: boolean };

interface AddFlags extends GlobalFlags {
  connType?: string;
  connUri?: string;
  host?: string;
  port?: string;
  login?: string;
  password?: string;
  schema?: string;
  extra?: string;
  description?: string;
}

export function registerConnectionsCommands(program: Command): void {
  const connections = program
    .command("connections")
    .description("manage Connections (how tasks reach external systems; password and extra encrypted at rest)");

  withGlobalFlags(
    connections
      .command("add")
      .description("add a connection, from fields or from a URI")
      .argument("<conn_id>")
      .option("--conn-type <type>", "connection type, e.g. postgres, http")
      .option("--conn-uri <uri>", "all fields as a URI: type://login:password@host:port/schema?extra_key=value")
      .option("--host <host>")
      .option("--port <port>")
      .option("--login <login>")
      .option("--password <password>")
      .option("--schema <schema>")
      .option("--extra <json>", "a JSON object of extra settings")
      .option("--description <text>"),
  ).action((connId: string, flags: AddFlags) => {
    const conn = connectionFromFlags(connId, flags);
    return withStore(flags, async (store, config) => {
      await addConnection(store.db, SecretBox.open(config.secretKey, config.home), conn);
      await logEvent(store.db, CLI_ACTOR, "connection.add", {}, connId);
      process.stdout.write(`connection ${connId} added\n`);
    });
  });

  withGlobalFlags(
    connections.command("get").description("show a connection (password and secret extras masked)").argument("<conn_id>").option("--json", "print JSON"),
  ).action((connId: string, flags: JsonFlag) =>
    withStore(flags, async (store, config) => {
      const conn = await findConnection(store.db, SecretBox.open(config.secretKey, config.home), connId);
      if (!conn) throw new NotFoundError(`connection '${connId}' does not exist: see 'aloft connections list'`);
      const shown = toRow(maskedConnection(conn));
      if (flags.json) process.stdout.write(`${JSON.stringify(shown)}\n`);
      else for (const [k, v] of Object.entries(shown)) process.stdout.write(`${k}: ${v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)}\n`);
    }),
  );

  withGlobalFlags(connections.command("list").description("list the connections").option("--json", "print JSON")).action((flags: JsonFlag) =>
    withStore(flags, async (store) => {
      // The listing shows no secret field, so nothing is decrypted (it works even under another key).
      const rows = await store.db
        .selectFrom("connection")
        .select(["conn_id", "conn_type", "host", "port", "login", "schema", "description"])
        .orderBy("conn_id")
        .execute();
      printRows(
        rows.map((r) => ({ ...r, port: r.port === null ? null : Number(r.port) })),
        Boolean(flags.json),
        ["conn_id", "conn_type", "host", "port", "login", "schema"],
      );
    }),
  );

  withGlobalFlags(connections.command("delete").description("delete a connection").argument("<conn_id>")).action(
    (connId: string, flags: GlobalFlags) =>
      withStore(flags, async (store) => {
        await deleteConnection(store.db, connId);
        await logEvent(store.db, CLI_ACTOR, "connection.delete", {}, connId);
        process.stdout.write(`connection ${connId} deleted\n`);
      }),
  );
}

function connectionFromFlags(connId: string, flags: AddFlags): Connection {
  const fieldFlags = [flags.host, flags.port, flags.login, flags.password, flags.schema, flags.extra, flags.connType];
  if (flags.connUri !== undefined) {
    if (fieldFlags.some((f) => f !== undefined)) {
      throw new UsageError("give either --conn-uri or --conn-type with field flags (--host, --port, ...), not both");
    }
    return { ...parseConnectionUri(connId, flags.connUri), description: flags.description ?? null };
  }
  if (!flags.connType) throw new UsageError(`connection '${connId}' needs --conn-type (e.g. --conn-type postgres) or --conn-uri`);
  let port: number | null = null;
  if (flags.port !== undefined) {
    port = Number(flags.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number from 1 to 65535, got '${flags.port}'`);
  }
  return {
    connId,
    connType: flags.connType,
    host: flags.host ?? null,
    schema: flags.schema ?? null,
    login: flags.login ?? null,
    password: flags.password ?? null,
    port,
    extra: parseJsonObjectFlag("--extra", flags.extra, '{"timeout": 30}'),
    description: flags.description ?? null,
  };
}


function toRow(conn: Connection): Record<string, unknown> {
  return {
    conn_id: conn.connId,
    conn_type: conn.connType,
    host: conn.host,
    port: conn.port,
    login: conn.login,
    password: conn.password,
    schema: conn.schema,
    extra: conn.extra,
    description: conn.description,
  };
}
