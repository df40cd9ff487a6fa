/**
 * `/api/v2/dagSources/{dag_id}`: the source of the file that defines a DAG version (the latest by
 * default), as Airflow's DAGSourceResponse, or as plain text when asked with `Accept: text/plain`.
 */
import type { FastifyInstance } from "fastify";
import { dagFileSource } from "../../bundle/dag-source.js";
import type { Store } from "../../store/db.js";
import { ApiProblem, notFound } from "../problems.js";
import { requireDag } from "./dags.js";

type SourceFormat = "json" | "text";

/** Airflow's choice: JSON (also for any type or none), plain text, or 406 for anything else. */
function sourceFormat(accept: string | undefined): SourceFormat {
  const wanted = accept || "*/*";
  if (wanted.startsWith("*/*") || wanted.startsWith("application/json")) return "json";
  if (wanted.startsWith("text/plain")) return "text";
  throw new ApiProblem(406, "Not Acceptable", "a DAG's source is served as application/json (the default) or text/plain");
}

export function registerDagSourceRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: { dag_id: string }; Querystring: { version_number?: number } }>(
    "/api/v2/dagSources/:dag_id",
    {
      config: { access: "viewer" },
      schema: {
        params: { type: "object", required: ["dag_id"], properties: { dag_id: { type: "string", minLength: 1, maxLength: 250 } } },
        querystring: { type: "object", additionalProperties: false, properties: { version_number: { type: "integer", minimum: 1 } } },
      },
    },
    async (request, reply) => {
      const format = sourceFormat(request.headers.accept);
      const { dag_id: dagId } = request.params;
      const wanted = request.query.version_number;
      await requireDag(store, dagId);
      let query = store.db
        .selectFrom("dag_version as v")
        .leftJoin("bundle_module as m", "m.hash", "v.module_hash")
        .select(["v.version_number", "v.fileloc", "m.code"])
        .where("v.dag_id", "=", dagId);
      query = wanted === undefined ? query.orderBy("v.version_number", "desc").limit(1) : query.where("v.version_number", "=", wanted);
      const version = await query.executeTakeFirst();
      if (!version) {
        const which = wanted === undefined ? "no version" : `no version ${wanted} (or it was pruned)`;
        throw notFound(`DAG '${dagId}' has ${which}: GET /api/v2/dags/${dagId}/dagVersions lists its versions`);
      }
      // A module is never pruned while a version uses it; null only if the DB was changed by hand.
      const content = version.code === null ? null : dagFileSource(version.code, version.fileloc);
      if (format === "text") return reply.type("text/plain; charset=utf-8").send(content ?? "");
      return { content, dag_id: dagId, version_number: version.version_number, dag_display_name: dagId };
    },
  );
}
