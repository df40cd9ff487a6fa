/**
 * `/api/v2/dags/{dag_id}/dagRuns`: list (`~` for every DAG), trigger, get, patch (state, note), clear
 * and delete, in the shapes of Airflow's DAGRunResponse. The changes are the operations the CLI makes
 * (triggerDagRun, markRun, setRunNote, clearTaskInstances, deleteRun), by the API user as the actor.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { NotFoundError } from "../../errors.js";
import { clearTaskInstances } from "../../operations/clear.js";
import { logEvent, type Actor } from "../../operations/context.js";
import { deleteRun } from "../../operations/delete-run.js";
import { markRun } from "../../operations/mark.js";
import { setRunNote } from "../../operations/notes.js";
import { findRun, runIdFor, triggerDagRun, type TriggerOptions } from "../../scheduler/runs.js";
import type { Store } from "../../store/db.js";
import type { DagRunRow, DagRunState, RunType } from "../../store/schema.js";
import { page, pagingQuery, type PagingParams } from "../pagination.js";
import { badRequest, conflict, notFound } from "../problems.js";
import { dagRunResponses, TRIGGER_EVENT } from "../responses/dag-runs.js";
import { taskInstanceQuery, taskInstanceResponses, withResponseColumns } from "../task-instances/shapes.js";

/** `~` as the DAG id lists the runs of every DAG, as in Airflow. */
const ALL_DAGS = "~";

/** A run_after this far ahead of the server's clock is refused: the scheduler would not wait for it (clocks differ a little). */
const RUN_AFTER_LEEWAY_MS = 60_000;

const idString = { type: "string", minLength: 1, maxLength: 250 } as const;
const dagIdParam = { type: "object", required: ["dag_id"], properties: { dag_id: idString } } as const;
const runParams = { type: "object", required: ["dag_id", "dag_run_id"], properties: { dag_id: idString, dag_run_id: idString } } as const;
const nullableTime = { type: ["string", "null"], format: "date-time" } as const;

type DagParams = { dag_id: string };
type RunParams = { dag_id: string; dag_run_id: string };

// --- list ---

const RUN_STATES: readonly DagRunState[] = ["queued", "running", "success", "failed"];
/** Airflow's run types; asset_materialization is one Aloft never creates, so it matches nothing. */
const RUN_TYPES = ["backfill", "scheduled", "manual", "asset_triggered", "asset_materialization"] as const;

/** The time filters: `<field>_gte`, `_gt`, `_lte`, `_lt` on each of these columns. */
const TIME_FIELDS = ["logical_date", "start_date", "end_date", "run_after"] as const;
const COMPARISONS = { gte: ">=", gt: ">", lte: "<=", lt: "<" } as const;
type TimeParam = `${(typeof TIME_FIELDS)[number]}_${keyof typeof COMPARISONS}`;
const TIME_FILTERS = TIME_FIELDS.flatMap((column) =>
  (Object.keys(COMPARISONS) as Array<keyof typeof COMPARISONS>).map((suffix) => ({ param: `${column}_${suffix}` as TimeParam, column, op: COMPARISONS[suffix] })),
);

interface ListQuery extends PagingParams, Partial<Record<TimeParam, string>> {
  state?: DagRunState[];
  run_type?: Array<(typeof RUN_TYPES)[number]>;
}

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pagingQuery,
    state: { type: "array", items: { type: "string", enum: RUN_STATES } },
    run_type: { type: "array", items: { type: "string", enum: RUN_TYPES } },
    ...Object.fromEntries(TIME_FILTERS.map((f) => [f.param, { type: "string", format: "date-time" }])),
  },
};

const ORDER_COLUMNS = {
  id: "id",
  dag_run_id: "run_id",
  run_id: "run_id",
  dag_id: "dag_id",
  state: "state",
  logical_date: "logical_date",
  run_after: "run_after",
  start_date: "start_date",
  end_date: "end_date",
};

// --- changes ---

interface TriggerBody {
  dag_run_id?: string | null;
  logical_date?: string | null;
  data_interval_start?: string | null;
  data_interval_end?: string | null;
  run_after?: string | null;
  conf?: Record<string, unknown> | null;
  note?: string | null;
  partition_key?: string | null;
}

const triggerBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    dag_run_id: { type: ["string", "null"], minLength: 1, maxLength: 250 },
    logical_date: nullableTime,
    data_interval_start: nullableTime,
    data_interval_end: nullableTime,
    run_after: nullableTime,
    conf: { type: ["object", "null"] },
    note: { type: ["string", "null"], maxLength: 1000 },
    partition_key: { type: ["string", "null"] },
  },
} as const;

interface PatchBody {
  state?: "queued" | "success" | "failed" | null;
  note?: string | null;
}

const patchBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    state: { type: ["string", "null"], enum: ["queued", "success", "failed", null] },
    note: { type: ["string", "null"], maxLength: 1000 },
  },
} as const;

const patchQuery = {
  type: "object",
  additionalProperties: false,
  properties: { update_mask: { type: "array", items: { type: "string", enum: ["state", "note"] } } },
} as const;

interface ClearBody {
  dry_run: boolean;
  only_failed: boolean;
  run_on_latest_version: boolean;
}

const clearBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    dry_run: { type: "boolean", default: true },
    only_failed: { type: "boolean", default: false },
    // A cleared run runs again on the DAG version it started with: only false is honoured.
    run_on_latest_version: { type: "boolean", enum: [false], default: false },
  },
} as const;

const actorOf = (request: FastifyRequest): Actor => ({ owner: request.user!.username });

export function registerDagRunRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: DagParams; Querystring: ListQuery }>(
    "/api/v2/dags/:dag_id/dagRuns",
    { config: { access: "viewer" }, schema: { params: dagIdParam, querystring: listQuery } },
    async (request) => {
      const q = request.query;
      const dagId = request.params.dag_id;
      let query = store.db.selectFrom("dag_run");
      if (dagId !== ALL_DAGS) {
        await requireDag(store, dagId);
        query = query.where("dag_id", "=", dagId);
      }
      if (q.state && q.state.length > 0) query = query.where("state", "in", q.state);
      if (q.run_type && q.run_type.length > 0) query = query.where("run_type", "in", q.run_type as RunType[]);
      for (const { param, column, op } of TIME_FILTERS) {
        const value = q[param];
        if (value !== undefined) query = query.where(column, op, Date.parse(value));
      }
      const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      const rows = await page(query.selectAll(), q, ORDER_COLUMNS, "id", "id").execute();
      return { dag_runs: await dagRunResponses(store.db, rows), total_entries: Number(total.n) };
    },
  );

  app.post<{ Params: DagParams; Body: TriggerBody }>(
    "/api/v2/dags/:dag_id/dagRuns",
    { config: { access: "user" }, schema: { params: dagIdParam, body: triggerBody } },
    async (request) => {
      const dagId = request.params.dag_id;
      const options = triggerOptions(request.body);
      const runId = options.runId;
      if (await findRun(store.db, dagId, runId)) throw conflict(`DAG '${dagId}' already has a run '${runId}': give another dag_run_id or logical_date`);
      try {
        // A paused DAG can be triggered, as in Airflow: its run waits, queued, until the DAG is unpaused.
        await triggerDagRun(store, dagId, options);
      } catch (error) {
        // Another request created the same run id since the check above.
        if (!(error instanceof NotFoundError) && (await findRun(store.db, dagId, runId))) throw conflict(`DAG '${dagId}' already has a run '${runId}'`);
        throw error;
      }
      await logEvent(store.db, actorOf(request), TRIGGER_EVENT, { dagId, runId }, options.conf ?? null);
      if (request.body.note != null) await setRunNote(store, actorOf(request), dagId, runId, request.body.note);
      return runResponse(store, dagId, runId);
    },
  );

  app.get<{ Params: RunParams }>("/api/v2/dags/:dag_id/dagRuns/:dag_run_id", { config: { access: "viewer" }, schema: { params: runParams } }, async (request) =>
    runResponse(store, request.params.dag_id, request.params.dag_run_id),
  );

  app.patch<{ Params: RunParams; Querystring: { update_mask?: Array<"state" | "note"> }; Body: PatchBody }>(
    "/api/v2/dags/:dag_id/dagRuns/:dag_run_id",
    { config: { access: "user" }, schema: { params: runParams, querystring: patchQuery, body: patchBody } },
    async (request) => {
      const { dag_id: dagId, dag_run_id: runId } = request.params;
      const body = request.body;
      await requireRunRow(store, dagId, runId);
      // As Airflow: the fields named by update_mask, else those the body sets.
      const fields = new Set<string>(request.query.update_mask ?? Object.keys(body));
      const state = fields.has("state") ? body.state : null;
      if (state === "queued") {
        throw badRequest("Aloft does not set a run back to queued by hand: clear it (POST .../clear) to run its tasks again");
      }
      if (state) await markRun(store, actorOf(request), dagId, runId, state);
      if (fields.has("note")) await setRunNote(store, actorOf(request), dagId, runId, body.note ?? null);
      return runResponse(store, dagId, runId);
    },
  );

  app.post<{ Params: RunParams; Body: ClearBody }>(
    "/api/v2/dags/:dag_id/dagRuns/:dag_run_id/clear",
    { config: { access: "user" }, schema: { params: runParams, body: clearBody } },
    async (request) => {
      const { dag_id: dagId, dag_run_id: runId } = request.params;
      const { dry_run: dryRun, only_failed: onlyFailed } = request.body;
      const result = await clearTaskInstances(store, actorOf(request), dagId, runId, { dryRun, onlyFailed });
      if (!dryRun) return runResponse(store, dagId, runId);
      // A dry run answers with the task instances that would be cleared, as they are now.
      const run = await requireRunRow(store, dagId, runId);
      const wanted = new Set(result.cleared.map((c) => `${c.taskId}[${c.mapIndex}]`));
      const rows = await withResponseColumns(taskInstanceQuery(store.db)).where("ti.dag_run_id", "=", run.id).orderBy("ti.task_id").orderBy("ti.map_index").execute();
      const tis = rows.filter((ti) => wanted.has(`${ti.task_id}[${ti.map_index}]`));
      return { task_instances: await taskInstanceResponses(store.db, tis), total_entries: tis.length };
    },
  );

  app.delete<{ Params: RunParams }>("/api/v2/dags/:dag_id/dagRuns/:dag_run_id", { config: { access: "user" }, schema: { params: runParams } }, async (request, reply) => {
    await deleteRun(store, actorOf(request), request.params.dag_id, request.params.dag_run_id);
    return reply.code(204).send();
  });
}

/**
 * What triggerDagRun needs from the body. The run id is settled here so that a duplicate is a 409.
 * Aloft runs always have a logical date: none given (or null) is now, as the CLI does.
 */
function triggerOptions(body: TriggerBody): TriggerOptions & { runId: string } {
  const logicalDate = body.logical_date == null ? Date.now() : Date.parse(body.logical_date);
  const start = body.data_interval_start == null ? undefined : Date.parse(body.data_interval_start);
  const end = body.data_interval_end == null ? undefined : Date.parse(body.data_interval_end);
  if ((start === undefined) !== (end === undefined)) throw badRequest("data_interval_start and data_interval_end go together: give both or neither");
  if (start !== undefined && end !== undefined && start > end) throw badRequest("data_interval_start is after data_interval_end");
  const runAfter = body.run_after == null ? undefined : Date.parse(body.run_after);
  if (runAfter !== undefined && runAfter > Date.now() + RUN_AFTER_LEEWAY_MS) {
    throw badRequest("run_after is in the future: Aloft starts a triggered run as soon as it can, so it cannot be given a later start");
  }
  if (body.partition_key != null) throw badRequest("Aloft has no partitioned runs: partition_key must be null");
  return {
    runId: body.dag_run_id ?? runIdFor("manual", logicalDate),
    logicalDate,
    conf: body.conf ?? undefined,
    ...(start !== undefined && end !== undefined ? { dataInterval: { start, end } } : {}),
    ...(runAfter !== undefined ? { runAfter } : {}),
  };
}

async function requireDag(store: Store, dagId: string): Promise<void> {
  const dag = await store.db.selectFrom("dag").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst();
  if (!dag) throw notFound(`DAG '${dagId}' was not found: GET /api/v2/dags shows the DAGs there are`);
}

async function requireRunRow(store: Store, dagId: string, runId: string): Promise<DagRunRow> {
  const run = await findRun(store.db, dagId, runId);
  if (!run) throw notFound(`DAG '${dagId}' has no run '${runId}': GET /api/v2/dags/${dagId}/dagRuns lists its runs`);
  return run;
}

async function runResponse(store: Store, dagId: string, runId: string) {
  const [response] = await dagRunResponses(store.db, [await requireRunRow(store, dagId, runId)]);
  return response;
}
