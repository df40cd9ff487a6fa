/** `/api/v2/dags`: list, get, details, pause and unpause, delete, in the shapes of Airflow's DAGResponse. */
import type { FastifyInstance } from "fastify";
import type { Selectable } from "kysely";
import type { SerializedDag } from "../../dag/types.js";
import { logEvent } from "../../operations/context.js";
import { deleteDag } from "../../operations/delete-dag.js";
import type { Store } from "../../store/db.js";
import type { DagTable } from "../../store/schema.js";
import { sql } from "../../store/kysely.js";
import { BUNDLE_NAME, dagVersionResponses } from "../responses/dag-versions.js";
import { notFound } from "../problems.js";
import { iso, matchingPattern, page, pagingQuery, type PagingParams } from "../pagination.js";

type DagRow = Selectable<DagTable>;

/** A task's concurrency in Aloft is per DAG (max_active_tasks), 16 when the DAG does not say. */
const DEFAULT_MAX_ACTIVE_TASKS = 16;

const dagIdParam = { type: "object", required: ["dag_id"], properties: { dag_id: { type: "string", maxLength: 250 } } } as const;

interface ListQuery extends PagingParams {
  tags?: string[];
  tags_match_mode?: "any" | "all";
  dag_id_pattern?: string;
  dag_display_name_pattern?: string;
  paused?: boolean;
  exclude_stale: boolean;
}

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pagingQuery,
    tags: { type: "array", items: { type: "string", maxLength: 100 } },
    tags_match_mode: { type: "string", enum: ["any", "all"] },
    dag_id_pattern: { type: "string", maxLength: 250 },
    dag_display_name_pattern: { type: "string", maxLength: 250 },
    paused: { type: "boolean" },
    exclude_stale: { type: "boolean", default: true },
  },
} as const;

const ORDER_COLUMNS = { dag_id: "dag_id", dag_display_name: "dag_id", next_dagrun: "next_dagrun_logical_date", last_parsed_time: "last_parsed_at", is_paused: "is_paused" };

/** Escapes LIKE's wildcards with `!`, an escape character every dialect takes as written (unlike `\`). */
const likeLiteral = (text: string) => text.replace(/[!%_]/g, (c) => `!${c}`);

/** A LIKE that finds `tag`, whole, in the JSON array of the tags column. */
const tagLike = (tag: string) => sql<boolean>`${sql.ref("tags")} like ${`%${likeLiteral(JSON.stringify(tag))}%`} escape '!'`;

export function registerDagRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/dags", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const q = request.query;
    let query = store.db.selectFrom("dag");
    if (q.exclude_stale) query = query.where("is_active", "=", 1);
    if (q.paused !== undefined) query = query.where("is_paused", "=", q.paused ? 1 : 0);
    // A DAG's display name is its id.
    for (const pattern of [q.dag_id_pattern, q.dag_display_name_pattern]) query = matchingPattern(query, "dag_id", pattern);
    if (q.tags && q.tags.length > 0) {
      const each = q.tags.map(tagLike);
      query = query.where((eb) => (q.tags_match_mode === "all" ? eb.and(each) : eb.or(each)));
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), q, ORDER_COLUMNS, "dag_id", "dag_id").execute();
    return { dags: await dagResponses(store, rows), total_entries: Number(total.n) };
  });

  app.get<{ Params: { dag_id: string } }>("/api/v2/dags/:dag_id", { config: { access: "viewer" }, schema: { params: dagIdParam } }, async (request) => {
    const [dag] = await dagResponses(store, [await requireDag(store, request.params.dag_id)]);
    return dag;
  });

  app.get<{ Params: { dag_id: string } }>("/api/v2/dags/:dag_id/details", { config: { access: "viewer" }, schema: { params: dagIdParam } }, async (request) => {
    const row = await requireDag(store, request.params.dag_id);
    const [base] = await dagResponses(store, [row]);
    const serialized = JSON.parse(row.serialized) as SerializedDag;
    return {
      ...base,
      catchup: serialized.catchup,
      dag_run_timeout: serialized.dagrunTimeoutMs ? isoDuration(serialized.dagrunTimeoutMs) : null,
      start_date: serialized.start,
      end_date: serialized.end,
      timezone: serialized.timezone,
      params: airflowParams(serialized),
      default_args: null,
      doc_md: null,
      owner_links: null,
      is_paused_upon_creation: null,
      render_template_as_native_obj: false,
      template_search_path: null,
      last_parsed: iso(row.last_parsed_at),
      concurrency: serialized.maxActiveTasks ?? DEFAULT_MAX_ACTIVE_TASKS,
      is_favorite: false,
      latest_dag_version: row.dag_version_id === null ? null : ((await dagVersionResponses(store.db, [row.dag_version_id])).get(row.dag_version_id) ?? null),
    };
  });

  app.patch<{ Params: { dag_id: string }; Body: { is_paused: boolean } }>(
    "/api/v2/dags/:dag_id",
    {
      config: { access: "user" },
      schema: {
        params: dagIdParam,
        querystring: { type: "object", additionalProperties: false, properties: { update_mask: { type: "array", items: { type: "string", enum: ["is_paused"] } } } },
        body: { type: "object", required: ["is_paused"], additionalProperties: false, properties: { is_paused: { type: "boolean" } } },
      },
    },
    async (request) => {
      const { dag_id: dagId } = request.params;
      await requireDag(store, dagId);
      const paused = request.body.is_paused;
      await store.transaction(async (trx) => {
        await trx.updateTable("dag").set({ is_paused: paused ? 1 : 0 }).where("dag_id", "=", dagId).execute();
        await logEvent(trx, { owner: request.user!.username }, paused ? "paused" : "unpaused", { dagId });
      });
      const [dag] = await dagResponses(store, [await requireDag(store, dagId)]);
      return dag;
    },
  );

  // Changes the deployment (the DAG's history goes; its file, still deployed, brings it back on the next deploy): op, like deploys.
  app.delete<{ Params: { dag_id: string } }>("/api/v2/dags/:dag_id", { config: { access: "op" }, schema: { params: dagIdParam } }, async (request, reply) => {
    // 404 for an unknown DAG, 409 while tries of it are queued or running.
    await deleteDag(store, { owner: request.user!.username }, request.params.dag_id);
    return reply.code(204).send();
  });
}

export async function requireDag(store: Store, dagId: string): Promise<DagRow> {
  const row = await store.db.selectFrom("dag").selectAll().where("dag_id", "=", dagId).executeTakeFirst();
  if (!row) throw notFound(`DAG '${dagId}' was not found: 'aloft dags list' or GET /api/v2/dags shows the DAGs there are`);
  return row;
}

/** Params as Airflow shows them: each with its default value, description and JSON Schema. */
export function airflowParams(dag: SerializedDag): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(dag.params)) {
    const schema = dag.paramSchemas?.[name] ?? {};
    out[name] = { __class: "airflow.sdk.definitions.param.Param", value, description: (schema.description as string | undefined) ?? null, schema };
  }
  return out;
}

function isoDuration(ms: number): string {
  return `PT${ms / 1000}S`;
}

/** DAGResponse for each row, with what it needs from other tables read once for all of them. */
async function dagResponses(store: Store, rows: DagRow[]) {
  const versionIds = rows.map((r) => r.dag_version_id).filter((id): id is number => id !== null);
  const versions = versionIds.length === 0 ? [] : await store.db.selectFrom("dag_version").select(["id", "bundle_id"]).where("id", "in", versionIds).execute();
  const bundleOf = new Map(versions.map((v) => [v.id, String(v.bundle_id)]));
  const files = rows.map((r) => r.fileloc);
  const failing = files.length === 0 ? [] : await store.db.selectFrom("import_error").select("filename").where("filename", "in", files).execute();
  const failingFiles = new Set(failing.map((f) => f.filename));
  return rows.map((row) => {
    const serialized = JSON.parse(row.serialized) as SerializedDag;
    const tags = JSON.parse(row.tags) as string[];
    return {
      dag_id: row.dag_id,
      dag_display_name: row.dag_id,
      is_paused: row.is_paused === 1,
      is_stale: row.is_active !== 1,
      last_parsed_time: iso(row.last_parsed_at),
      last_parse_duration: null,
      last_expired: null,
      bundle_name: BUNDLE_NAME,
      bundle_version: row.dag_version_id === null ? null : (bundleOf.get(row.dag_version_id) ?? null),
      relative_fileloc: row.fileloc,
      fileloc: row.fileloc,
      description: row.description,
      timetable_summary: row.schedule,
      timetable_description: null,
      timetable_partitioned: false,
      tags: tags.map((name) => ({ name, dag_id: row.dag_id, dag_display_name: row.dag_id })),
      max_active_tasks: serialized.maxActiveTasks ?? DEFAULT_MAX_ACTIVE_TASKS,
      max_active_runs: row.max_active_runs,
      max_consecutive_failed_dag_runs: 0,
      has_task_concurrency_limits: false,
      has_import_errors: failingFiles.has(row.fileloc),
      next_dagrun_logical_date: iso(row.next_dagrun_logical_date),
      next_dagrun_data_interval_start: iso(row.next_dagrun_data_interval_start),
      next_dagrun_data_interval_end: iso(row.next_dagrun_data_interval_end),
      next_dagrun_run_after: iso(row.next_dagrun_create_after),
      owners: [] as string[],
      allowed_run_types: null,
      file_token: Buffer.from(row.fileloc).toString("base64url"),
    };
  });
}
