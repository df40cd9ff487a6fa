/**
 * Error responses: RFC 7807 problem documents (`application/problem+json`: type, title, status,
 * detail, instance), which are also what Airflow's API answers: `detail` is a sentence for an
 * HTTPException, and a list of {loc, msg, type} for a request that fails validation (422).
 */
import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ConflictError, NotFoundError, UsageError } from "../errors.js";
import type { Logger } from "../logging.js";

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiProblem(404, "Not Found", what);
export const badRequest = (what: string) => new ApiProblem(400, "Bad Request", what);
export const conflict = (what: string) => new ApiProblem(409, "Conflict", what);

export interface ValidationIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/**
 * A 422 for input the schema cannot check (JSON inside a string field), in the schema's own form:
 * `detail` is a list of one {loc, msg, type}.
 */
export class InvalidField extends Error {
  constructor(readonly issue: ValidationIssue) {
    super(issue.msg);
  }
}

export const invalidField = (loc: Array<string | number>, msg: string) => new InvalidField({ loc, msg, type: "value_error" });

function send(reply: FastifyReply, request: FastifyRequest, status: number, title: string, detail: string | ValidationIssue[], headers: Record<string, string> = {}) {
  return reply
    .code(status)
    .headers(headers)
    .type("application/problem+json")
    .send({ type: `https://aloft.dev/problems/${status}`, title, status, detail, instance: request.url.split("?")[0] });
}

// Fastify's names for the parts of a request, and Airflow's.
const LOCATIONS: Record<string, string> = { body: "body", params: "path", querystring: "query", headers: "header" };

/** Where a schema error is, in Airflow's `loc` form: ["body", "conf"], ["query", "limit"], ["path", "dag_id"]. */
function location(error: FastifyError): Array<string | number> {
  const part = LOCATIONS[error.validationContext ?? "body"] ?? "body";
  const first = error.validation?.[0];
  const path = (first?.instancePath ?? "").split("/").filter(Boolean);
  const missing = first?.keyword === "required" ? [String((first.params as { missingProperty?: string }).missingProperty)] : [];
  const extra = first?.keyword === "additionalProperties" ? [String((first.params as { additionalProperty?: string }).additionalProperty)] : [];
  return [part, ...path, ...missing, ...extra].map((p) => (/^\d+$/.test(String(p)) ? Number(p) : p));
}

export function problemHandler(logger: Logger) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiProblem) return send(reply, request, error.status, error.title, error.message, error.headers);
    if (error instanceof InvalidField) return send(reply, request, 422, "Unprocessable Entity", [error.issue]);
    if (error instanceof NotFoundError) return send(reply, request, 404, "Not Found", error.message);
    if (error instanceof ConflictError) return send(reply, request, 409, "Conflict", error.message);
    if (error instanceof UsageError) return send(reply, request, 400, "Bad Request", error.message);
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const first = fastifyError.validation[0];
      const loc = location(fastifyError);
      const msg =
        first?.keyword === "additionalProperties"
          ? `unknown field '${String(loc.at(-1))}'`
          : first?.keyword === "required"
            ? `field required: '${String(loc.at(-1))}'`
            : `${loc.slice(1).join(".") || loc[0]} ${first?.message ?? "is not valid"}`;
      return send(reply, request, 422, "Unprocessable Entity", [{ loc, msg, type: first?.keyword ?? "invalid" }]);
    }
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // Fastify's own 4xx: malformed JSON, a body over the limit, an unsupported media type.
      return send(reply, request, status, STATUS_CODES[status] ?? "Bad Request", fastifyError.message);
    }
    logger.error({ err: error.message, stack: error.stack, method: request.method, url: request.url.split("?")[0] }, "API request failed");
    return send(reply, request, 500, "Internal Server Error", "the server failed to answer this request; its log says why");
  };
}
