/**
 * The runner's side of the runtime channel: calls go to the executor over IPC and replies come back
 * by id. A TryRuntime gives one try its `ctx.xcom`, `ctx.variables`, `ctx.connections` and template
 * sources, and remembers the secrets the try fetched so that its log masks them.
 */
import type { ConnectionAccess, ConnectionInfo, VariableAccess, XComAccess } from "../dag/types.js";
import { taskLabel } from "../dag/validate.js";
import type { RuntimeCall, RuntimeReply, TryRequest } from "../executor/protocol.js";
import { connectionSecrets } from "./connections.js";
import { isSensitiveName, maskSecrets } from "./secrets.js";
import type { TemplateSources } from "./templates.js";
import { checkXcomKey, checkXcomSize } from "./xcom.js";

export class RuntimeClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly send: (call: RuntimeCall) => void) {}

  call(tiId: number, method: string, args: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: "call", id, tiId, method, args });
    });
  }

  onReply(reply: RuntimeReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(new Error(reply.error));
  }
}

export class TryRuntime {
  /** Secret values this try fetched; its log shows "***" instead. */
  readonly secrets = new Set<string>();
  private readonly where: string;

  constructor(
    private readonly client: RuntimeClient,
    readonly request: TryRequest,
  ) {
    this.where = taskLabel(request.dagId, request.taskId);
  }

  private call(method: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return this.client.call(this.request.tiId, method, args);
  }

  mask(text: string): string {
    return this.secrets.size === 0 ? text : maskSecrets(text, this.secrets);
  }

  /** Length of the longest end of `text` that is the beginning of a secret (0 when none). */
  secretPrefixAtEnd(text: string): number {
    let longest = 0;
    for (const secret of this.secrets) {
      for (let k = Math.min(secret.length - 1, text.length); k > longest; k--) {
        if (text.endsWith(secret.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }

  /** The JSON text of a value to store as XCom, checked against xcom_max_bytes. */
  xcomJson(key: string, value: unknown): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new Error(`${this.where}: XCom '${key}' cannot be stored as JSON: ${(error as Error).message}`);
    }
    if (json === undefined) throw new Error(`${this.where}: XCom '${key}' cannot be stored as JSON (got ${typeof value})`);
    if (this.request.xcomMaxBytes !== undefined) checkXcomSize(this.where, key, json, this.request.xcomMaxBytes);
    return json;
  }

  xcom(): XComAccess {
    return {
      push: async (key, value) => {
        checkXcomKey(this.where, key);
        await this.call("xcom.push", { key, json: this.xcomJson(key, value) });
      },
      pull: async <T>(options: { taskId: string; key?: string; mapIndex?: number }) => {
        if (typeof options !== "object" || options === null || typeof options.taskId !== "string") {
          throw new Error(`${this.where}: xcom.pull needs { taskId: "..." }`);
        }
        return (await this.call("xcom.pull", { taskId: options.taskId, key: options.key, mapIndex: options.mapIndex })) as T | undefined;
      },
    };
  }

  /** The variable's value, or undefined when it does not exist. */
  async variable(key: string): Promise<string | undefined> {
    const found = (await this.call("variable.get", { key })) as { value: string } | null;
    if (!found) return undefined;
    if (isSensitiveName(key)) this.secrets.add(found.value);
    return found.value;
  }

  variables(): VariableAccess {
    return {
      get: async <T>(key: string, defaultValue?: T, options?: { json?: boolean }) => {
        const value = await this.variable(key);
        if (value === undefined) {
          if (defaultValue !== undefined) return defaultValue;
          throw new Error(`${this.where}: variable '${key}' does not exist; create it with 'aloft variables set ${key} VALUE' or pass a default`);
        }
        if (!options?.json) return value as T;
        try {
          return JSON.parse(value) as T;
        } catch {
          throw new Error(`${this.where}: variable '${key}' is not valid JSON, but was read with { json: true }`);
        }
      },
    };
  }

  /** The connection, or undefined when it does not exist. */
  async connection(connId: string): Promise<ConnectionInfo | undefined> {
    const conn = (await this.call("connection.get", { connId })) as ConnectionInfo | null;
    if (!conn) return undefined;
    for (const secret of connectionSecrets(conn)) this.secrets.add(secret);
    return conn;
  }

  connections(): ConnectionAccess {
    return {
      get: async (connId) => {
        const conn = await this.connection(connId);
        if (!conn) throw new Error(`${this.where}: connection '${connId}' does not exist; add it with 'aloft connections add ${connId} ...'`);
        return conn;
      },
    };
  }

  templateSources(): TemplateSources {
    return {
      variable: (key) => this.variable(key),
      xcom: (taskId, key) => this.call("xcom.pull", { taskId, key }),
      connection: async (connId) => {
        const c = await this.connection(connId);
        if (!c) return undefined;
        // Airflow's attribute names: extra is the JSON text, extra_dejson the object.
        return {
          conn_id: c.connId,
          conn_type: c.connType,
          host: c.host,
          schema: c.schema,
          login: c.login,
          password: c.password,
          port: c.port,
          extra: JSON.stringify(c.extra),
          extra_dejson: c.extra,
          description: c.description,
        };
      },
    };
  }

  /** The element of the upstream's list this mapped instance runs for. */
  async mapItem(): Promise<unknown> {
    const { item } = (await this.call("map.item")) as { item: unknown };
    return item;
  }

  async storeRendered(fields: Record<string, unknown>): Promise<void> {
    await this.call("rendered.store", { fields });
  }
}

/**
 * ctx.xcom, ctx.variables and ctx.connections where no runtime channel exists (a task callback run by
 * the callback runner after its try was killed): each call fails saying so.
 */
export function unavailableRuntime(where: string): { xcom: XComAccess; variables: VariableAccess; connections: ConnectionAccess } {
  const fail = async (): Promise<never> => {
    throw new Error(`${where}: XCom, Variables and Connections are not available here (a callback run outside the task's runner)`);
  };
  return { xcom: { push: fail, pull: fail }, variables: { get: fail }, connections: { get: fail } };
}
