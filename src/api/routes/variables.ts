/**
 * `/api/v2/variables`: list, get, create, change and delete, in the shapes of Airflow's
 * VariableResponse. Values are stored encrypted (setVariable, as `aloft variables set`). A viewer may
 * read variables, so every response masks what looks secret, as Airflow does: the whole value when
 * the key names a secret, and the secret-named fields of a JSON value.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Selectable } from "kysely";
import { logEvent, type Actor } from "../../operations/context.js";
import { isSensitiveName, MASK, maskSensitiveValues, type SecretBox } from "../../runtime/secrets.js";
import { decryptedVariable, deleteVariable, KEY_PATTERN, setVariable } from "../../runtime/variables.js";
import type { Store } from "../../store/db.js";
import type { VariableTable } from "../../store/schema.js";
import { longText, patches, refuseTeam, teamName, updateMaskQuery } from "../fields.js";
import { matchingPattern, page, pagingQuery, type PagingParams } from "../pagination.js";
import { badRequest, conflict, notFound } from "../problems.js";

type VariableRow = Selectable<VariableTable>;

const keyParam = { type: "object", required: ["variable_key"], properties: { variable_key: { type: "string", minLength: 1, maxLength: 250 } } } as const;
type KeyParam = { variable_key: string };

interface ListQuery extends PagingParams {
  variable_key_pattern?: string;
}

const listQuery = { type: "object", additionalProperties: false, properties: { ...pagingQuery, variable_key_pattern: { type: "string", maxLength: 250 } } } as const;

// Variables have no id in Aloft: Airflow's default order (by id) is by key. Encrypted values do not sort.
const ORDER_COLUMNS = { id: "key", key: "key", description: "description", is_encrypted: "is_encrypted" };

interface VariableBody {
  key: string;
  value: unknown;
  description?: string | null;
  team_name?: string | null;
}

/** Airflow's VariableBody: the value is any JSON; a key Aloft cannot store is a 422 naming the key. */
const variableBody = {
  type: "object",
  required: ["key", "value"],
  additionalProperties: false,
  properties: { key: { type: "string", pattern: KEY_PATTERN.source }, value: {}, description: longText, team_name: teamName },
} as const;

const actorOf = (request: FastifyRequest): Actor => ({ owner: request.user!.username });

/** Variables are text: a JSON value that is not a string is kept as its JSON (what `ctx.variables.get(key, undefined, { json: true })` reads). */
const storedValue = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

export function registerVariableRoutes(app: FastifyInstance, store: Store, box: SecretBox): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/variables", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const query = matchingPattern(store.db.selectFrom("variable"), "key", request.query.variable_key_pattern);
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), request.query, ORDER_COLUMNS, "id", "key").execute();
    return { variables: rows.map((row) => variableResponse(box, row)), total_entries: Number(total.n) };
  });

  app.get<{ Params: KeyParam }>("/api/v2/variables/:variable_key", { config: { access: "viewer" }, schema: { params: keyParam } }, async (request) =>
    variableResponse(box, await requireVariable(store, request.params.variable_key)),
  );

  app.post<{ Body: VariableBody }>("/api/v2/variables", { config: { access: "op" }, schema: { body: variableBody } }, async (request, reply) => {
    const { key, value, description } = request.body;
    refuseTeam(request.body);
    await store.transaction(async (trx) => {
      const existing = await trx.selectFrom("variable").select("key").where("key", "=", key).executeTakeFirst();
      if (existing) throw conflict(`variable '${key}' already exists: change it with PATCH /api/v2/variables/${key}`);
      await setVariable(trx, box, key, storedValue(value), description ?? null);
      await logEvent(trx, actorOf(request), "variable.set", {}, key);
    });
    return reply.code(201).send(variableResponse(box, await requireVariable(store, key)));
  });

  app.patch<{ Params: KeyParam; Querystring: { update_mask?: string[] }; Body: VariableBody }>(
    "/api/v2/variables/:variable_key",
    { config: { access: "op" }, schema: { params: keyParam, querystring: updateMaskQuery(["key", "value", "description", "team_name"]), body: variableBody } },
    async (request) => {
      const key = request.params.variable_key;
      const body = request.body;
      if (body.key !== key) throw badRequest(`the body's key '${body.key}' is not the variable of the path, '${key}': variables cannot be renamed`);
      refuseTeam(body);
      const changes = (field: keyof VariableBody) => patches(body, request.query.update_mask, field);
      await store.transaction(async (trx) => {
        const current = decryptedVariable(box, await requireVariable(store, key, trx));
        const value = changes("value") ? storedValue(body.value) : current.value;
        await setVariable(trx, box, key, value, changes("description") ? (body.description ?? null) : current.description);
        await logEvent(trx, actorOf(request), "variable.set", {}, key);
      });
      return variableResponse(box, await requireVariable(store, key));
    },
  );

  app.delete<{ Params: KeyParam }>("/api/v2/variables/:variable_key", { config: { access: "op" }, schema: { params: keyParam } }, async (request, reply) => {
    const key = request.params.variable_key;
    await store.transaction(async (trx) => {
      await deleteVariable(trx, key);
      await logEvent(trx, actorOf(request), "variable.delete", {}, key);
    });
    return reply.code(204).send();
  });
}

async function requireVariable(store: Store, key: string, db = store.db): Promise<VariableRow> {
  const row = await db.selectFrom("variable").selectAll().where("key", "=", key).executeTakeFirst();
  if (!row) throw notFound(`variable '${key}' was not found: GET /api/v2/variables lists the variables there are`);
  return row;
}

function variableResponse(box: SecretBox, row: VariableRow) {
  const { key, value, description } = decryptedVariable(box, row);
  return { key, value: shownValue(key, value), description, is_encrypted: row.is_encrypted === 1, team_name: null };
}

/** The value as a response shows it: masked when the key names a secret; a JSON value with its secret-named fields masked. */
function shownValue(key: string, value: string): string {
  if (isSensitiveName(key)) return MASK;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return value; // not JSON: plain text, shown as it is
  }
  const masked = JSON.stringify(maskSensitiveValues(parsed));
  // Unchanged values are shown as stored, spacing and all.
  return masked === JSON.stringify(parsed) ? value : masked;
}
