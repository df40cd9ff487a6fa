/**
 * For the web UI's DAG page: the grid (latest runs × tasks, one state code a cell), the task
 * structure for the graph, and a run's tries for the Gantt chart, each in one compact request that
 * stays quick for a DAG of thousands of tasks. Under /ui/api: the UI's own, not part of Airflow's API.
 */
import type { FastifyInstance } from "fastify";
import type { Store } from "../../store/db.js";
import type { SerializedDag } from "../../dag/types.js";
import { iso } from "../pagination.js";
import { notFound } from "../problems.js";
import { requireDag } from "./dags.js";

/**
 * The states a grid cell can show, by code. 0: the task has no instance in the run (another DAG
 * version, or not yet created); 1: an instance no scheduler has looked at yet (Airflow's "none").
 */
export const STATE_CODES = [
  "",
  "none",
  "scheduled",
  "queued",
  "running",
  "success",
  "failed",
  "skipped",
  "upstream_failed",
  "up_for_retry",
  "up_for_reschedule",
  "restarting",
  "removed",
  "deferred",
] as const;
const CODE_OF = new Map<string, number>(STATE_CODES.map((state, code) => [state, code]));

/**
 * Which state a mapped task's cell shows, most urgent first, as Airflow's grid summarises map
 * indexes: a failure anywhere shows, then what is still in flight, then the finished states.
 */
const SUMMARY_PRIORITY = ["failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "deferred", "running", "restarting", "none", "success", "skipped", "removed"];
const RANK = new Map<string, number>(SUMMARY_PRIORITY.map((state, rank) => [state, rank]));
const rankOf = (state: string) => RANK.get(state) ?? SUMMARY_PRIORITY.length;

const idString = { type: "string", minLength: 1, maxLength: 250 } as const;
const dagParams = { type: "object", required: ["dag_id"], additionalProperties: false, properties: { dag_id: idString } } as const;
const runParams = { type: "object", required: ["dag_id", "run_id"], additionalProperties: false, properties: { dag_id: idString, run_id: idString } } as const;
const gridQuery = { type: "object", additionalProperties: false, properties: { runs: { type: "integer", minimum: 1, maximum: 100, default: 25 } } } as const;
const structureQuery = { type: "object", additionalProperties: false, properties: { version_number: { type: "integer", minimum: 1 } } } as const;

interface GridTask {
  id: string;
  group: string | null;
  kind: string | null;
  operator: string | null;
  mapped: boolean;
}

const gridTask = (t: SerializedDag["tasks"][number]): GridTask => ({ id: t.taskId, group: t.group ?? null, kind: t.kind, operator: t.operator ?? null, mapped: t.expandFrom !== undefined });

export function registerUiDagViewRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: { dag_id: string }; Querystring: { runs: number } }>(
    "/ui/api/dags/:dag_id/grid",
    { config: { access: "viewer" }, schema: { params: dagParams, querystring: gridQuery } },
    async (request) => {
      const dagId = request.params.dag_id;
      const dag = await requireDag(store, dagId);
      const latest = await store.db
        .selectFrom("dag_run as r")
        .leftJoin("dag_version as v", "v.id", "r.dag_version_id")
        .select(["r.id", "r.run_id", "r.state", "r.logical_date", "r.run_after", "r.start_date", "r.end_date", "r.run_type", "v.version_number"])
        .where("r.dag_id", "=", dagId)
        .orderBy("r.run_after", "desc")
        .orderBy("r.id", "desc")
        .limit(request.query.runs)
        .execute();
      const runs = latest.reverse();

      // Rows: the current version's tasks in its topological order, then tasks only older runs have.
      const tasks = (JSON.parse(dag.serialized) as SerializedDag).tasks.map(gridTask);
      const indexOf = new Map(tasks.map((t, i) => [t.id, i]));
      const instances =
        runs.length === 0
          ? []
          : await store.db
              .selectFrom("task_instance")
              .select(["dag_run_id", "task_id", "state"])
              .where(
                "dag_run_id",
                "in",
                runs.map((r) => r.id),
              )
              .execute();
      for (const ti of instances) {
        if (indexOf.has(ti.task_id)) continue;
        indexOf.set(ti.task_id, tasks.length);
        tasks.push({ id: ti.task_id, group: null, kind: null, operator: null, mapped: false });
      }

      const states = new Map(runs.map((r) => [Number(r.id), new Array<number>(tasks.length).fill(0)]));
      for (const ti of instances) {
        const codes = states.get(Number(ti.dag_run_id))!;
        const index = indexOf.get(ti.task_id)!;
        const state = ti.state ?? "none";
        const shown = STATE_CODES[codes[index]!]!;
        // Several instances of one task are a mapped task's: the cell shows the most urgent state.
        if (shown === "" || rankOf(state) < rankOf(shown)) codes[index] = CODE_OF.get(state) ?? 1;
      }
      return {
        dag_id: dagId,
        state_codes: STATE_CODES,
        tasks,
        runs: runs.map((r) => ({
          run_id: r.run_id,
          state: r.state,
          run_type: r.run_type,
          logical_date: iso(r.logical_date),
          run_after: iso(r.run_after),
          start_date: iso(r.start_date),
          end_date: iso(r.end_date),
          dag_version_number: r.version_number === null ? null : Number(r.version_number),
          states: states.get(Number(r.id)),
        })),
      };
    },
  );

  app.get<{ Params: { dag_id: string }; Querystring: { version_number?: number } }>(
    "/ui/api/dags/:dag_id/structure",
    { config: { access: "viewer" }, schema: { params: dagParams, querystring: structureQuery } },
    async (request) => {
      const dagId = request.params.dag_id;
      const number = request.query.version_number;
      const dag = await requireDag(store, dagId);
      let serialized = dag.serialized;
      let versionNumber: number | null = null;
      if (number !== undefined) {
        const version = await store.db.selectFrom("dag_version").select("serialized").where("dag_id", "=", dagId).where("version_number", "=", number).executeTakeFirst();
        if (!version) throw notFound(`DAG '${dagId}' has no version ${number} (or it was pruned): GET /api/v2/dags/${dagId}/dagVersions lists them`);
        serialized = version.serialized;
        versionNumber = number;
      } else if (dag.dag_version_id !== null) {
        const current = await store.db.selectFrom("dag_version").select("version_number").where("id", "=", dag.dag_version_id).executeTakeFirst();
        versionNumber = current ? Number(current.version_number) : null;
      }
      const structure = JSON.parse(serialized) as SerializedDag;
      return {
        dag_id: dagId,
        version_number: versionNumber,
        tasks: structure.tasks.map((t) => ({ ...gridTask(t), upstream: t.upstream })),
        groups: (structure.groups ?? []).map((g) => ({ id: g.groupId, parent: g.parent, tooltip: g.tooltip ?? null })),
      };
    },
  );

  app.get<{ Params: { dag_id: string; run_id: string } }>("/ui/api/dags/:dag_id/runs/:run_id/gantt", { config: { access: "viewer" }, schema: { params: runParams } }, async (request) => {
    const { dag_id: dagId, run_id: runId } = request.params;
    await requireDag(store, dagId);
    const run = await store.db.selectFrom("dag_run").select(["id", "state", "queued_at", "start_date", "end_date"]).where("dag_id", "=", dagId).where("run_id", "=", runId).executeTakeFirst();
    if (!run) throw notFound(`DAG '${dagId}' has no run '${runId}': GET /api/v2/dags/${dagId}/dagRuns lists its runs`);
    const instances = await store.db
      .selectFrom("task_instance")
      .select(["id", "task_id", "map_index", "try_number", "state", "queued_at", "start_date", "end_date"])
      .where("dag_run_id", "=", run.id)
      .orderBy("id")
      .execute();
    const earlier = await store.db
      .selectFrom("task_try as tt")
      .innerJoin("task_instance as ti", "ti.id", "tt.ti_id")
      .select(["tt.ti_id", "tt.try_number", "tt.state", "tt.start_date", "tt.end_date"])
      .where("ti.dag_run_id", "=", run.id)
      .whereRef("tt.try_number", "<", "ti.try_number")
      .orderBy("tt.try_number")
      .execute();
    const triesOf = new Map<number, typeof earlier>();
    for (const t of earlier) {
      const list = triesOf.get(Number(t.ti_id)) ?? [];
      list.push(t);
      triesOf.set(Number(t.ti_id), list);
    }
    const ms = (value: number | null) => (value === null ? null : Number(value));
    // One row a try: the earlier tries from the try history, then the current one from the instance (its state is authoritative).
    const rows: [string, number, number, string, number | null, number | null, number | null][] = [];
    for (const ti of instances) {
      for (const t of triesOf.get(Number(ti.id)) ?? []) rows.push([ti.task_id, ti.map_index, t.try_number, t.state, null, ms(t.start_date), ms(t.end_date)]);
      rows.push([ti.task_id, ti.map_index, ti.try_number, ti.state ?? "none", ms(ti.queued_at), ms(ti.start_date), ms(ti.end_date)]);
    }
    return {
      dag_id: dagId,
      run_id: runId,
      state: run.state,
      queued_at: iso(run.queued_at),
      start_date: iso(run.start_date),
      end_date: iso(run.end_date),
      columns: ["task_id", "map_index", "try_number", "state", "queued_at", "start", "end"],
      rows,
    };
  });
}
