/**
 * `/api/v2/dags/{dag_id}/dagVersions`: the versions each deploy made of a DAG (what `aloft dags
 * versions` lists), in the shape of Airflow's DagVersionResponse. Pruned versions are gone.
 */
import type { FastifyInstance } from "fastify";
import type { Store } from "../../store/db.js";
import { page, pagingQuery, type PagingParams } from "../pagination.js";
import { notFound } from "../problems.js";
import { BUNDLE_NAME, dagVersionResponses } from "../responses/dag-versions.js";
import { requireDag } from "./dags.js";

/** `~` as the DAG id lists the versions of every DAG, as in Airflow. */
const ALL_DAGS = "~";

const idString = { type: "string", minLength: 1, maxLength: 250 } as const;

interface ListQuery extends PagingParams {
  version_number?: number;
  bundle_name?: string;
  bundle_version?: string;
}

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pagingQuery,
    version_number: { type: "integer", minimum: 1 },
    bundle_name: { type: "string", maxLength: 250 },
    bundle_version: { type: "string", maxLength: 250 },
  },
} as const;

// Every version is in Aloft's one bundle, so bundle_name orders like the id; a bundle's version is its id.
const ORDER_COLUMNS = { id: "id", version_number: "version_number", bundle_name: "id", bundle_version: "bundle_id" };

export function registerDagVersionRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: { dag_id: string }; Querystring: ListQuery }>(
    "/api/v2/dags/:dag_id/dagVersions",
    { config: { access: "viewer" }, schema: { params: { type: "object", required: ["dag_id"], properties: { dag_id: idString } }, querystring: listQuery } },
    async (request) => {
      const q = request.query;
      const dagId = request.params.dag_id;
      let query = store.db.selectFrom("dag_version");
      if (dagId !== ALL_DAGS) {
        await requireDag(store, dagId);
        query = query.where("dag_id", "=", dagId);
      }
      // Aloft has one bundle, whose versions are the deploys' ids: another name, or a version that is no id, matches nothing.
      const bundleId = q.bundle_version === undefined ? undefined : Number(q.bundle_version);
      if ((q.bundle_name !== undefined && q.bundle_name !== BUNDLE_NAME) || (bundleId !== undefined && !Number.isSafeInteger(bundleId))) {
        return { dag_versions: [], total_entries: 0 };
      }
      if (bundleId !== undefined) query = query.where("bundle_id", "=", bundleId);
      if (q.version_number !== undefined) query = query.where("version_number", "=", q.version_number);
      const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      const rows = await page(query.select("id"), q, ORDER_COLUMNS, "id", "id").execute();
      const versions = await dagVersionResponses(store.db, rows.map((r) => r.id));
      // A version pruned since the first read is left out.
      return { dag_versions: rows.flatMap((r) => versions.get(Number(r.id)) ?? []), total_entries: Number(total.n) };
    },
  );

  app.get<{ Params: { dag_id: string; version_number: number } }>(
    "/api/v2/dags/:dag_id/dagVersions/:version_number",
    {
      config: { access: "viewer" },
      schema: {
        params: { type: "object", required: ["dag_id", "version_number"], properties: { dag_id: idString, version_number: { type: "integer" } } },
      },
    },
    async (request) => {
      const { dag_id: dagId, version_number: number } = request.params;
      await requireDag(store, dagId);
      const row = await store.db.selectFrom("dag_version").select("id").where("dag_id", "=", dagId).where("version_number", "=", number).executeTakeFirst();
      if (!row) throw notFound(`DAG '${dagId}' has no version ${number} (or it was pruned): GET /api/v2/dags/${dagId}/dagVersions lists them`);
      return (await dagVersionResponses(store.db, [row.id])).get(Number(row.id));
    },
  );
}
