/**
 * Checks response bodies against Airflow 3's public REST API spec, so API tests prove Aloft returns the
 * shapes Airflow clients expect, not shapes we merely believe match. The spec's responses and schemas
 * come from src/api/openapi/airflow-operations.generated.ts, which scripts/extract-airflow-schemas.mjs
 * writes from the reference file (shared/reference/airflow-rest-api-v2.yaml): the tests do not need it.
 */
import { AssertionError } from "node:assert";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { AIRFLOW_OPERATIONS, AIRFLOW_SCHEMAS } from "../../src/api/openapi/airflow-operations.generated.js";

// The id Ajv knows the whole spec document by; every response schema is compiled as a $ref into it.
const SPEC_ID = "airflow-spec.json";
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

interface Operation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Spec = { paths: Record<string, Record<string, Operation>> };

let loaded: { spec: Spec; ajv: Ajv2020 } | undefined;
const validators = new Map<string, ValidateFunction>();

/** The errors of `body` against the spec's JSON schema for that response; empty when it matches. */
export function responseSchemaErrors(method: string, specPath: string, status: number, body: unknown): string[] {
  const validate = validatorFor(method.toLowerCase(), specPath, status);
  if (validate(body)) return [];
  return (validate.errors ?? []).map(describeError);
}

/** Throws an AssertionError listing every way `body` differs from the spec's response schema. */
export function assertMatchesSpec(method: string, specPath: string, status: number, body: unknown): void {
  const errors = responseSchemaErrors(method, specPath, status, body);
  if (errors.length === 0) return;
  throw new AssertionError({
    message: `${method.toUpperCase()} ${specPath} ${status} body does not match the Airflow spec:\n  ${errors.join("\n  ")}`,
    actual: body,
    operator: "assertMatchesSpec",
  });
}

/** Every operation of the spec (method in upper case), for tests that check which endpoints Aloft covers. */
export function specOperations(): Array<{ method: string; path: string; operationId: string }> {
  const { spec } = load();
  return Object.entries(spec.paths).flatMap(([p, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path: p, operationId: item[m]?.operationId ?? "" })),
  );
}

function validatorFor(method: string, specPath: string, status: number): ValidateFunction {
  const key = `${method} ${specPath} ${status}`;
  const cached = validators.get(key);
  if (cached) return cached;
  const { spec, ajv } = load();
  const operation = spec.paths[specPath]?.[method];
  if (!operation) throw new Error(`the Airflow spec has no operation ${method.toUpperCase()} ${specPath}`);
  // Airflow documents most error statuses per operation; "default" catches the rest where it is given.
  const code = operation.responses?.[String(status)] ? String(status) : "default";
  const response = operation.responses?.[code];
  if (!response) {
    const known = Object.keys(operation.responses ?? {}).join(", ");
    throw new Error(`the Airflow spec has no response ${status} for ${method.toUpperCase()} ${specPath} (it has: ${known})`);
  }
  if (response.content?.["application/json"]?.schema === undefined) {
    throw new Error(`the Airflow spec gives no JSON body schema for ${method.toUpperCase()} ${specPath} ${code}`);
  }
  // A pointer into the registered document (not a copy of the schema) keeps its "#/components/..." refs resolvable.
  const pointer = ["paths", specPath, method, "responses", code, "content", "application/json", "schema"]
    .map((part) => encodeURIComponent(part.replace(/~/g, "~0").replace(/\//g, "~1")))
    .join("/");
  const validate = ajv.compile({ $ref: `${SPEC_ID}#/${pointer}` });
  validators.set(key, validate);
  return validate;
}

function load(): { spec: Spec; ajv: Ajv2020 } {
  if (loaded) return loaded;
  const spec = withNullAsType(specDocument()) as Spec;
  // The schemas sit in an OpenAPI document and use OpenAPI-only keywords (example, readOnly): strict mode rejects both.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is not a dependency: check the formats Airflow's bodies rely on, and accept the rest unchecked.
  ajv.addFormat("date-time", (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat("uuid", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat("duration", true);
  ajv.addSchema({ ...spec, $id: SPEC_ID });
  loaded = { spec, ajv };
  return loaded;
}

// RFC 3339 with a required offset: Airflow always returns timezone-aware times.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * FastAPI writes Optional fields OpenAPI 3.0 style (`nullable: true`), which JSON Schema 2020-12 ignores,
 * so null would be rejected by the field's type; rewrite each such schema into "it, or null".
 */
function withNullAsType(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withNullAsType);
  if (node === null || typeof node !== "object") return node;
  const copy = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withNullAsType(v)]));
  if (copy.nullable !== true) return copy;
  const { nullable: _, ...schema } = copy;
  return { anyOf: [schema, { type: "null" }] };
}

/** The spec's paths (each operation's JSON responses) and component schemas, as an OpenAPI document. */
function specDocument(): unknown {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const [key, op] of Object.entries(AIRFLOW_OPERATIONS)) {
    const [method, specPath] = key.split(" ") as [string, string];
    const responses = Object.fromEntries(
      Object.entries(op.responses).map(([status, r]) => [status, r.schema === undefined ? {} : { content: { "application/json": { schema: r.schema } } }]),
    );
    (paths[specPath] ??= {})[method.toLowerCase()] = { operationId: op.operationId, responses };
  }
  return { paths, components: { schemas: AIRFLOW_SCHEMAS } };
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath || "(body)";
  const extra = e.params.additionalProperty === undefined ? "" : ` "${String(e.params.additionalProperty)}"`;
  return `${where} ${e.message ?? e.keyword}${extra}`;
}
