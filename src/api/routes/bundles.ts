/**
 * Aloft's addition `/api/v2/bundles`: the deployed bundles (dag_bundle rows, one per deploy that
 * changed something), newest first. No Airflow counterpart.
 */
import type { FastifyInstance } from "fastify";
import type { Store } from "../../store/db.js";
import { iso, page, pagingQuery, type PagingParams } from "../pagination.js";

const listQuery = { type: "object", additionalProperties: false, properties: pagingQuery } as const;

export function registerBundleRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: PagingParams }>("/api/v2/bundles", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const query = store.db.selectFrom("dag_bundle");
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), request.query, { id: "id", created_at: "created_at" }, "-id", "id").execute();
    return {
      bundles: rows.map((b) => ({
        id: Number(b.id),
        hash: b.hash,
        message: b.message,
        created_at: iso(b.created_at)!,
        file_count: b.file_count,
        bytes: Number(b.bytes),
      })),
      total_entries: Number(total.n),
    };
  });
}
