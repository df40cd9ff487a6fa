/**
 * DAG params with validation: `params: { n: param(5, { type: "integer", minimum: 1 }) }` declares a
 * default and a JSON Schema (checked with ajv). Defaults are checked when the DAG loads; a run's conf,
 * merged over the defaults, is checked when the run is triggered. Plain values stay plain defaults.
 */
import { Ajv, type ValidateFunction } from "ajv";
import { DagDefinitionError } from "../errors.js";
import { dagLabel } from "./validate.js";

/** JSON Schema keywords of one param, e.g. `{ type: "integer", minimum: 1 }` or `{ enum: ["dev", "prod"] }`. */
export type ParamSchema = Record<string, unknown>;

// A global symbol, so that DAG files importing another copy of this module still make params we know.
const PARAM = Symbol.for("aloft.param");

/** A param declared with `param()`. */
export interface Param {
  readonly [PARAM]: true;
  readonly default: unknown;
  readonly schema: ParamSchema;
}

/**
 * Declares a validated param.
 * @param defaultValue used when a run's conf does not set the param; undefined: the conf must set it.
 * @param schema JSON Schema the value must satisfy (ajv, draft-07 keywords). Default {}: anything.
 */
export function param(defaultValue?: unknown, schema: ParamSchema = {}): Param {
  return { [PARAM]: true, default: defaultValue, schema };
}

function isParam(value: unknown): value is Param {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[PARAM] === true;
}

const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new Map<string, ValidateFunction>();

function validator(schema: ParamSchema): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(key, fn);
  }
  return fn;
}

/**
 * Splits a DAG's params into plain defaults and the schemas of those made with `param()`, checking
 * the schemas and the defaults. Throws DagDefinitionError naming the DAG and the param.
 */
export function splitParams(dagId: string, params: Record<string, unknown> | undefined): { defaults: Record<string, unknown> | undefined; schemas: Record<string, ParamSchema> } {
  const schemas: Record<string, ParamSchema> = {};
  if (params === undefined || typeof params !== "object" || params === null) return { defaults: params, schemas };
  const defaults: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!isParam(value)) {
      defaults[name] = value;
      continue;
    }
    if (typeof value.schema !== "object" || value.schema === null || Array.isArray(value.schema)) {
      throw new DagDefinitionError(`${dagLabel(dagId)}: param '${name}': the schema must be an object of JSON Schema keywords`);
    }
    try {
      validator(value.schema);
    } catch (error) {
      throw new DagDefinitionError(`${dagLabel(dagId)}: param '${name}' has an invalid schema: ${(error as Error).message}`);
    }
    schemas[name] = JSON.parse(JSON.stringify(value.schema)) as ParamSchema;
    if (value.default !== undefined) {
      const problem = paramProblem(value.schema, value.default);
      if (problem) throw new DagDefinitionError(`${dagLabel(dagId)}: param '${name}': the default ${problem}`);
      defaults[name] = value.default;
    }
  }
  return { defaults, schemas };
}

/** Why `value` fails `schema` ("must be >= 1, got 0"), or null when it passes. */
function paramProblem(schema: ParamSchema, value: unknown): string | null {
  const validate = validator(schema);
  if (validate(value)) return null;
  const error = validate.errors?.[0];
  const at = error?.instancePath ? ` at ${error.instancePath}` : "";
  const allowed = error?.keyword === "enum" ? ` (${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)})` : "";
  return `${error?.message ?? "is invalid"}${allowed}${at}, got ${JSON.stringify(value)}`;
}

/**
 * Checks the params a run will see (defaults merged with its conf) against the DAG's schemas.
 * Returns the problems, each naming the param; empty when all pass.
 */
export function paramProblems(schemas: Record<string, ParamSchema>, values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(schemas)) {
    if (values[name] === undefined) {
      problems.push(`param '${name}' has no default and the run's conf does not set it`);
      continue;
    }
    const problem = paramProblem(schema, values[name]);
    if (problem) problems.push(`param '${name}' ${problem}`);
  }
  return problems;
}
