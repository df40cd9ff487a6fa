/**
 * The API server of `aloft api` in the test process, on a Harness (a fresh DB of one dialect with
 * DAGs deployed and the engine running), called with Fastify's inject (no port), with users of each
 * role and their bearer tokens.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { createApiServer } from "../../src/api/server.js";
import { createUser } from "../../src/api/auth/users.js";
import { ROLES } from "../../src/api/auth/roles.js";
import { silentLogger } from "../../src/logging.js";
import type { ApiRole } from "../../src/store/schema.js";
import { after, before } from "node:test";
import type { DialectFactory } from "./dialects.js";
import { Harness } from "./harness.js";

export const PASSWORD = "correct horse battery";

export interface CallOptions {
  as?: ApiRole | null;
  body?: unknown;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
}

export class ApiUnderTest {
  app!: FastifyInstance;
  private readonly tokens = new Map<ApiRole, string>();

  constructor(private readonly harness: Harness) {}

  /** Starts the server on the harness's store and creates one user per role (named after it). */
  async start(): Promise<void> {
    this.app = await createApiServer({ store: this.harness.store, config: this.harness.config, logger: silentLogger, scheduler: this.harness.scheduler });
    for (const role of ROLES) {
      await createUser(this.harness.store, role, PASSWORD, role);
      const response = await this.call("POST", "/auth/token", { as: null, body: { username: role, password: PASSWORD } });
      if (response.statusCode !== 201) throw new Error(`could not log in as ${role}: ${response.body}`);
      this.tokens.set(role, response.json<{ access_token: string }>().access_token);
    }
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }

  /** A request as the user of role `as` (default viewer; null: no credentials). */
  call(method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT", url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
    const role = options.as === undefined ? "viewer" : options.as;
    const headers: Record<string, string> = { ...options.headers };
    if (role !== null) headers.authorization = `Bearer ${this.tokens.get(role)}`;
    return this.app.inject({ method, url, headers, cookies: options.cookies, ...(options.body === undefined ? {} : { payload: options.body as object }) });
  }
}

/**
 * For a describe(): a Harness on `factory` with `dags`, and the API server on it, started before the
 * suite's tests and stopped after them.
 */
export function useApi(factory: DialectFactory, dags: Record<string, string> = {}): { harness: Harness; api: ApiUnderTest } {
  const harness = new Harness(factory, dags);
  const api = new ApiUnderTest(harness);
  before(async () => {
    await harness.start();
    await api.start();
  });
  after(async () => {
    await api.stop();
    await harness.stop();
  });
  return { harness, api };
}
