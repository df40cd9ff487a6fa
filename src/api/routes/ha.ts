/**
 * Aloft's addition `/api/v2/ha/clusters`: the HA clusters there are, and `/api/v2/ha/clusters/{name}`:
 * one cluster as `aloft ha status --json` shows it (leader, epoch, lease expiry and age by the DB's
 * clock, nodes, recent transitions), and its transitions page by page. `scheduler` is the scheduler's cluster. No Airflow counterpart.
 */
import type { FastifyInstance } from "fastify";
import { clusterExists, clusterStatus, eventView, listClusters } from "../../ha/status.js";
import type { Store } from "../../store/db.js";
import { page, pagingQuery, type PagingParams } from "../pagination.js";
import { notFound } from "../problems.js";

type Params = { name: string };

const nameParam = { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1, maxLength: 64 } } } as const;
const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;
const eventsQuery = { type: "object", additionalProperties: false, properties: pagingQuery } as const;

export function registerHaRoutes(app: FastifyInstance, store: Store): void {
  // Clusters are few (one per single-instance command run under a controller): no paging.
  app.get("/api/v2/ha/clusters", { config: { access: "viewer" }, schema: { querystring: noQuery } }, async () => {
    const clusters = await listClusters(store);
    return { clusters, total_entries: clusters.length };
  });

  app.get<{ Params: Params }>("/api/v2/ha/clusters/:name", { config: { access: "viewer" }, schema: { params: nameParam } }, async (request) => {
    await requireCluster(store, request.params.name);
    return clusterStatus(store, request.params.name);
  });

  app.get<{ Params: Params; Querystring: PagingParams }>(
    "/api/v2/ha/clusters/:name/events",
    { config: { access: "viewer" }, schema: { params: nameParam, querystring: eventsQuery } },
    async (request) => {
      const name = request.params.name;
      await requireCluster(store, name);
      const query = store.db.selectFrom("ha_event").where("cluster", "=", name);
      const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      // Newest first by default, as `aloft ha status` shows them.
      const rows = await page(query.selectAll(), request.query, { id: "id", at: "at" }, "-id", "id").execute();
      return { events: rows.map(eventView), total_entries: Number(total.n) };
    },
  );
}

async function requireCluster(store: Store, name: string): Promise<void> {
  if (!(await clusterExists(store, name))) {
    throw notFound(`no HA cluster '${name}': no node joined it and no scheduler took its lease ('scheduler' is the scheduler's cluster)`);
  }
}
