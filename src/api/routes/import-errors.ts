/** `/api/v2/importErrors`: the DAG files of the latest deploy that failed to import, in the shapes of Airflow's ImportErrorResponse. */
import type { FastifyInstance } from "fastify";
import type { Selectable } from "kysely";
import type { Store } from "../../store/db.js";
import type { ImportErrorTable } from "../../store/schema.js";
import { iso, matchingPattern, page, pagingQuery, type PagingParams } from "../pagination.js";
import { notFound } from "../problems.js";
import { BUNDLE_NAME } from "../responses/dag-versions.js";

interface ListQuery extends PagingParams {
  filename_pattern?: string;
}

const listQuery = { type: "object", additionalProperties: false, properties: { ...pagingQuery, filename_pattern: { type: "string", maxLength: 1000 } } } as const;

// Aloft has one bundle, so every error has the same bundle_name: ordering by it is ordering by id.
const ORDER_COLUMNS = { id: "id", import_error_id: "id", timestamp: "created_at", filename: "filename", bundle_name: "id" };

export function registerImportErrorRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/importErrors", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const query = matchingPattern(store.db.selectFrom("import_error"), "filename", request.query.filename_pattern);
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), request.query, ORDER_COLUMNS, "id", "id").execute();
    return { import_errors: rows.map(importErrorResponse), total_entries: Number(total.n) };
  });

  app.get<{ Params: { import_error_id: number } }>(
    "/api/v2/importErrors/:import_error_id",
    { config: { access: "viewer" }, schema: { params: { type: "object", required: ["import_error_id"], properties: { import_error_id: { type: "integer", minimum: 1 } } } } },
    async (request) => {
      const id = request.params.import_error_id;
      const row = await store.db.selectFrom("import_error").selectAll().where("id", "=", id).executeTakeFirst();
      // Each deploy replaces the import errors: an id from an earlier deploy is gone.
      if (!row) throw notFound(`import error ${id} was not found: GET /api/v2/importErrors lists those of the latest deploy`);
      return importErrorResponse(row);
    },
  );
}

function importErrorResponse(row: Selectable<ImportErrorTable>) {
  return { import_error_id: row.id, timestamp: iso(row.created_at)!, filename: row.filename, bundle_name: BUNDLE_NAME, stack_trace: row.message };
}
