/**
 * For the web UI's DAG list: the latest runs of many DAGs in one query (the public API would need
 * one request per DAG). Under /ui/api: the UI's own, not part of Airflow's API.
 */
import type { FastifyInstance } from "fastify";
import type { Store } from "../../store/db.js";
import { iso } from "../pagination.js";

interface RecentQuery {
  dag_ids: string[];
  limit: number;
}

const recentQuery = {
  type: "object",
  required: ["dag_ids"],
  additionalProperties: false,
  properties: {
    dag_ids: { type: "array", items: { type: "string", maxLength: 250 }, maxItems: 200 },
    limit: { type: "integer", minimum: 1, maximum: 25, default: 10 },
  },
} as const;

export function registerUiDagListRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: RecentQuery }>("/ui/api/recent-runs", { config: { access: "viewer" }, schema: { querystring: recentQuery } }, async (request) => {
    const { dag_ids: dagIds, limit } = request.query;
    const runs: Record<string, { run_id: string; state: string; logical_date: string | null; run_after: string | null }[]> = {};
    for (const dagId of dagIds) runs[dagId] = [];
    if (dagIds.length === 0) return { runs };
    // Numbered newest first within each DAG, so one query returns each DAG's latest `limit` runs.
    const numbered = store.db
      .selectFrom("dag_run")
      .select((eb) => ["dag_id", "run_id", "state", "logical_date", "run_after", eb.fn.agg<number>("row_number").over((ob) => ob.partitionBy("dag_id").orderBy("run_after", "desc").orderBy("id", "desc")).as("recency")])
      .where("dag_id", "in", dagIds);
    const rows = await store.db.selectFrom(numbered.as("numbered")).selectAll().where("recency", "<=", limit).orderBy("recency").execute();
    for (const row of rows) runs[row.dag_id]!.push({ run_id: row.run_id, state: row.state, logical_date: iso(row.logical_date), run_after: iso(row.run_after) });
    return { runs };
  });
}
