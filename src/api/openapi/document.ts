/**
 * The API's own OpenAPI document (`GET /openapi.json`), built from the routes as registered: their
 * paths, the parameters and bodies their schemas accept, and the least role each needs. Responses
 * are described with Airflow's schemas for the endpoints that answer in Airflow's shapes, which the
 * API tests check every response against, and generically for Aloft's additions.
 */
import type { FastifyInstance, FastifySchema } from "fastify";
import { VERSION } from "../../version.js";
import type { Access } from "../auth/roles.js";
import { AIRFLOW_API_VERSION, AIRFLOW_OPERATIONS, AIRFLOW_SCHEMAS } from "./airflow-operations.generated.js";

interface RouteDoc {
  method: string;
  path: string;
  access: Access;
  schema?: FastifySchema;
}

type JsonSchema = { properties?: Record<string, unknown>; required?: string[] } & Record<string, unknown>;

const PROBLEM = {
  type: "object",
  description: "RFC 7807 problem: detail is a sentence, or (422) Airflow's list of {loc, msg, type}",
  required: ["type", "title", "status", "detail"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { anyOf: [{ type: "string" }, { type: "array", items: { $ref: "#/components/schemas/ValidationError" } }] },
    instance: { type: "string" },
  },
};

/** Collects the routes as they are registered; call before registering any. */
export function documentRoutes(app: FastifyInstance): () => Record<string, unknown> {
  const routes: RouteDoc[] = [];
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === "HEAD" || !route.config?.access) continue;
      routes.push({ method, path: route.url.replace(/:(\w+)/g, "{$1}"), access: route.config.access, schema: route.schema });
    }
  });
  let document: Record<string, unknown> | undefined;
  return () => (document ??= openApiDocument(routes));
}

function parameters(schema: FastifySchema | undefined): unknown[] {
  const out: unknown[] = [];
  for (const [where, part] of [["path", schema?.params], ["query", schema?.querystring]] as const) {
    const s = part as JsonSchema | undefined;
    for (const [name, property] of Object.entries(s?.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (s?.required ?? []).includes(name), schema: property });
    }
  }
  return out;
}

function operation(route: RouteDoc): Record<string, unknown> {
  const airflow = AIRFLOW_OPERATIONS[`${route.method} ${route.path}`];
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(airflow?.responses ?? { 200: { description: "OK" } })) {
    // Aloft's errors are problem documents in every case (they also carry Airflow's `detail`).
    const schema = /^[45]/.test(status) ? { $ref: "#/components/schemas/Problem" } : response.schema;
    responses[status] = { description: response.description, ...(schema ? { content: { "application/json": { schema } } } : {}) };
  }
  if (route.access !== "public") {
    responses["401"] ??= { description: "no credentials, or bad ones", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };
    responses["403"] ??= { description: `the user's role is below '${route.access}'`, content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };
  }
  const body = route.schema?.body;
  return {
    summary: airflow?.summary ?? `${route.method} ${route.path}`,
    tags: airflow ? airflow.tags : ["Aloft"],
    "x-aloft-role": route.access,
    security: route.access === "public" ? [] : [{ bearer: [] }, { session: [] }],
    parameters: parameters(route.schema),
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
    responses,
  };
}

function openApiDocument(routes: RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: "3.1.0",
    info: {
      title: "Aloft API",
      version: VERSION,
      description:
        `Airflow's public REST API shapes (Airflow API ${AIRFLOW_API_VERSION ?? ""}) for the endpoints Airflow has, and Aloft's additions (tag "Aloft"). ` +
        "x-aloft-role names the least role an operation needs: viewer < user < op < admin.",
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "a token from POST /auth/token" },
        session: { type: "apiKey", in: "cookie", name: "aloft_session", description: "the UI session from POST /auth/login; changes also need the X-CSRF-Token header" },
      },
      schemas: { ...AIRFLOW_SCHEMAS, Problem: PROBLEM },
    },
  };
}
