/**
 * Task instances in the shapes of Airflow's API: list and get, their tries and logs, marking and
 * notes (PATCH), and clearing (POST /dags/{dag_id}/clearTaskInstances). Changes go through Aloft's
 * operations (src/operations), which write the event log under the API user's name. Options those
 * operations cannot honour are refused with a 400 naming them, never ignored.
 */
import type { FastifyInstance } from "fastify";
import { clearTaskInstances } from "../../operations/clear.js";
import { requireRun, type Actor, type Db } from "../../operations/context.js";
import { markTaskInstances } from "../../operations/mark.js";
import { setTaskNote } from "../../operations/notes.js";
import type { Store } from "../../store/db.js";
import { ApiProblem, badRequest, conflict, notFound } from "../problems.js";
import { page, pagingQuery, type PagingParams } from "../pagination.js";
import { logMessages, readLog } from "../task-instances/log-reading.js";
import { requireInstance, requireInstances, requireTry, triesOf } from "../task-instances/lookup.js";
import { taskInstanceQuery, taskInstanceResponses, taskTryResponses, withResponseColumns, type TaskInstanceRow } from "../task-instances/shapes.js";

const RUN = "/api/v2/dags/:dag_id/dagRuns/:dag_run_id";
const TI = `${RUN}/taskInstances/:task_id`;

/** `~` for the DAG or the run of the list means every one, as in Airflow. */
const ALL = "~";

/** Airflow's TaskInstanceState; Aloft has all of them but deferred. */
const TI_STATES = ["removed", "scheduled", "queued", "running", "success", "restarting", "failed", "up_for_retry", "up_for_reschedule", "upstream_failed", "skipped", "deferred"];

const id = { type: "string", minLength: 1, maxLength: 250 } as const;
const mapIndex = { type: "integer", minimum: -1 } as const;
const tryNumber = { type: "integer", minimum: 0 } as const;

function params(extra: Record<string, object> = {}) {
  return { type: "object", required: ["dag_id", "dag_run_id", "task_id", ...Object.keys(extra)], properties: { dag_id: id, dag_run_id: id, task_id: id, ...extra } };
}
const mapIndexQuery = { type: "object", additionalProperties: false, properties: { map_index: { ...mapIndex, default: -1 } } } as const;

interface TaskParams {
  dag_id: string;
  dag_run_id: string;
  task_id: string;
}

// ---- list filters: Airflow's query parameters, by the column each filters ----

const IN_FILTERS = { pool: "ti.pool", queue: "ti.queue", operator: "ti.operator", map_index: "ti.map_index", try_number: "ti.try_number" } as const;
const PATTERN_FILTERS = {
  dag_id_pattern: "ti.dag_id",
  run_id_pattern: "ti.run_id",
  task_display_name_pattern: "ti.task_id",
  pool_name_pattern: "ti.pool",
  queue_name_pattern: "ti.queue",
  operator_name_pattern: "ti.operator",
} as const;
const RANGE_FILTERS = {
  start_date: "ti.start_date",
  end_date: "ti.end_date",
  updated_at: "ti.updated_at",
  logical_date: "dr.logical_date",
  run_after: "dr.run_after",
  duration: "ti.duration_ms",
} as const;
const BOUNDS = { gte: ">=", gt: ">", lte: "<=", lt: "<" } as const;

type RangeParam = `${keyof typeof RANGE_FILTERS}_${keyof typeof BOUNDS}`;
type ListQuery = PagingParams & { task_id?: string; state?: string[] } & Partial<Record<keyof typeof IN_FILTERS, Array<string | number>>> &
  Partial<Record<keyof typeof PATTERN_FILTERS, string>> &
  Partial<Record<RangeParam, string | number>>;

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pagingQuery,
    task_id: id,
    state: { type: "array", items: { type: "string", enum: [...TI_STATES, "none", "no_status"] } },
    ...Object.fromEntries(
      Object.keys(IN_FILTERS).map((k) => [k, { type: "array", items: k === "map_index" || k === "try_number" ? { type: "integer" } : { type: "string", maxLength: 250 } }]),
    ),
    ...Object.fromEntries(Object.keys(PATTERN_FILTERS).map((k) => [k, { type: "string", maxLength: 250 }])),
    ...Object.fromEntries(
      Object.keys(RANGE_FILTERS).flatMap((f) => Object.keys(BOUNDS).map((b) => [`${f}_${b}`, f === "duration" ? { type: "number" } : { type: "string", format: "date-time" }])),
    ),
  },
};

const ORDER_COLUMNS = {
  id: "ti.id",
  state: "ti.state",
  duration: "ti.duration_ms",
  start_date: "ti.start_date",
  end_date: "ti.end_date",
  map_index: "ti.map_index",
  rendered_map_index: "ti.map_index",
  try_number: "ti.try_number",
  operator: "ti.operator",
  logical_date: "dr.logical_date",
  run_after: "dr.run_after",
  data_interval_start: "dr.data_interval_start",
  data_interval_end: "dr.data_interval_end",
};

type TiQuery = ReturnType<typeof taskInstanceQuery>;
type Column = (typeof IN_FILTERS)[keyof typeof IN_FILTERS] | (typeof RANGE_FILTERS)[keyof typeof RANGE_FILTERS];

function filtered(query: TiQuery, q: ListQuery): TiQuery {
  if (q.task_id !== undefined) query = query.where("ti.task_id", "=", q.task_id);
  if (q.state && q.state.length > 0) {
    // "none" (or "no_status") is an instance no scheduler has looked at yet: a null state.
    const states = q.state.filter((s) => s !== "none" && s !== "no_status") as TaskInstanceRow["state"][];
    const orNone = states.length < q.state.length;
    query = query.where((eb) => eb.or([...(states.length > 0 ? [eb("ti.state", "in", states)] : []), ...(orNone ? [eb("ti.state", "is", null)] : [])]));
  }
  for (const [param, column] of entries(IN_FILTERS)) {
    const values = q[param];
    // The values' types are the columns' (the query-string schema says so); TypeScript cannot see it through the loop.
    if (values && values.length > 0) query = query.where(column as Column, "in", values as never[]);
  }
  for (const [param, column] of entries(PATTERN_FILTERS)) {
    const pattern = q[param];
    if (pattern !== undefined) query = matching(query, column, pattern);
  }
  const now = Date.now();
  for (const [field, column] of entries(RANGE_FILTERS)) {
    for (const [bound, op] of entries(BOUNDS)) {
      const value = q[`${field}_${bound}`];
      if (value === undefined) continue;
      const limit = field === "duration" ? Number(value) * 1000 : Date.parse(String(value));
      // As Airflow: an instance that has not started (or ended) yet counts as starting (ending) now.
      query = query.where((eb) => eb(field === "start_date" || field === "end_date" ? eb.fn.coalesce(column as Column, eb.val(now)) : eb.ref(column as Column), op, limit));
    }
  }
  return query;
}

/** As Airflow's *_pattern parameters: SQL LIKE anywhere in the value, case aside; `|` separates alternatives; `~` is anything. */
function matching(query: TiQuery, column: string, pattern: string): TiQuery {
  const alternatives = pattern
    .split("|")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => (p === "~" ? "%" : `%${p.toLowerCase()}%`));
  if (alternatives.length === 0) return query;
  return query.where((eb) => eb.or(alternatives.map((p) => eb(eb.fn("lower", [column as "ti.dag_id"]), "like", p))));
}

function entries<T extends object>(o: T): Array<[keyof T, T[keyof T]]> {
  return Object.entries(o) as Array<[keyof T, T[keyof T]]>;
}

/** The DAG and run the list names must exist (a 404 otherwise), unless given as `~`. */
async function requireScope(db: Db, dagId: string, runId: string): Promise<void> {
  if (dagId !== ALL && runId !== ALL) {
    await requireRun(db, dagId, runId);
  } else if (dagId !== ALL) {
    const dag = await db.selectFrom("dag").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst();
    if (!dag) throw notFound(`DAG '${dagId}' was not found: GET /api/v2/dags shows the DAGs there are`);
  } else if (runId !== ALL) {
    const run = await db.selectFrom("dag_run").select("id").where("run_id", "=", runId).executeTakeFirst();
    if (!run) throw notFound(`no DAG has a run '${runId}'`);
  }
}

// ---- PATCH and clear: the bodies of Airflow's PatchTaskInstanceBody and ClearTaskInstancesBody ----

interface PatchBody {
  new_state?: "success" | "failed" | "skipped" | null;
  note?: string | null;
  include_upstream: boolean;
  include_downstream: boolean;
  include_future: boolean;
  include_past: boolean;
}

const patchBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    // Airflow too takes only these three (a 422 for the other states).
    new_state: { enum: ["success", "failed", "skipped", null] },
    note: { type: ["string", "null"], maxLength: 1000 },
    include_upstream: { type: "boolean", default: false },
    include_downstream: { type: "boolean", default: false },
    include_future: { type: "boolean", default: false },
    include_past: { type: "boolean", default: false },
  },
} as const;

const patchQuery = {
  type: "object",
  additionalProperties: false,
  properties: { map_index: mapIndex, update_mask: { type: "array", items: { type: "string", enum: ["new_state", "note"] } } },
} as const;

interface ClearBody {
  dry_run: boolean;
  dag_run_id?: string | null;
  task_ids?: Array<string | unknown[]> | null;
  only_failed: boolean;
  only_running: boolean;
  include_upstream: boolean;
  include_downstream: boolean;
  include_future: boolean;
  include_past: boolean;
  reset_dag_runs: boolean;
  run_on_latest_version: boolean;
  prevent_running_task: boolean;
  start_date?: string | null;
  end_date?: string | null;
}

const clearBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    dry_run: { type: "boolean", default: true },
    dag_run_id: { type: ["string", "null"], maxLength: 250 },
    task_ids: { type: ["array", "null"], items: { anyOf: [{ type: "string", maxLength: 250 }, { type: "array" }] } },
    only_failed: { type: "boolean", default: true },
    only_running: { type: "boolean", default: false },
    include_upstream: { type: "boolean", default: false },
    include_downstream: { type: "boolean", default: false },
    include_future: { type: "boolean", default: false },
    include_past: { type: "boolean", default: false },
    reset_dag_runs: { type: "boolean", default: true },
    run_on_latest_version: { type: "boolean", default: false },
    prevent_running_task: { type: "boolean", default: false },
    start_date: { type: ["string", "null"], format: "date-time" },
    end_date: { type: ["string", "null"], format: "date-time" },
  },
} as const;

/** Throws a 400 with the message of the first refusal whose condition holds. */
function refuse(refusals: Array<[boolean, string]>): void {
  const first = refusals.find(([applies]) => applies);
  if (first) throw badRequest(first[1]);
}

const OTHER_RUNS = "is not supported: Aloft changes task instances within one run";

// ---- logs ----

type LogFormat = "json" | "ndjson" | "text";

/**
 * Airflow 3 answers JSON, or NDJSON when asked. Plain text, which Airflow 2's API served and
 * Airflow 3's refuses (406), is kept for curl and terminals.
 */
function logFormat(accept: string | undefined): LogFormat {
  const wanted = accept || "*/*";
  if (wanted.startsWith("*/*") || wanted.startsWith("application/json")) return "json";
  if (wanted.startsWith("application/x-ndjson")) return "ndjson";
  if (wanted.startsWith("text/plain")) return "text";
  throw new ApiProblem(406, "Not Acceptable", "a log is served as application/json (the default), application/x-ndjson or text/plain");
}

/** Where a follower of a log sent as NDJSON or text reads its continuation token, as Airflow sends it with NDJSON. */
const CONTINUATION_HEADER = "airflow-continuation-token";

export function registerTaskInstanceRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: { dag_id: string; dag_run_id: string }; Querystring: ListQuery }>(
    `${RUN}/taskInstances`,
    {
      config: { access: "viewer" },
      schema: { params: { type: "object", required: ["dag_id", "dag_run_id"], properties: { dag_id: id, dag_run_id: id } }, querystring: listQuery },
    },
    async (request) => {
      const { dag_id: dagId, dag_run_id: runId } = request.params;
      await requireScope(store.db, dagId, runId);
      let query = taskInstanceQuery(store.db);
      if (dagId !== ALL) query = query.where("ti.dag_id", "=", dagId);
      if (runId !== ALL) query = query.where("ti.run_id", "=", runId);
      query = filtered(query, request.query);
      const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      const rows = await page(withResponseColumns(query), request.query, ORDER_COLUMNS, "map_index", "ti.id").execute();
      return { task_instances: await taskInstanceResponses(store.db, rows), total_entries: Number(total.n) };
    },
  );

  const one = async (p: TaskParams, index: number) => {
    const [response] = await taskInstanceResponses(store.db, [await requireInstance(store.db, p.dag_id, p.dag_run_id, p.task_id, index)]);
    return response;
  };
  app.get<{ Params: TaskParams }>(TI, { config: { access: "viewer" }, schema: { params: params() } }, async (request) => one(request.params, -1));
  app.get<{ Params: TaskParams & { map_index: number } }>(`${TI}/:map_index`, { config: { access: "viewer" }, schema: { params: params({ map_index: mapIndex }) } }, async (request) =>
    one(request.params, request.params.map_index),
  );

  const tries = async (p: TaskParams, index: number) => {
    const instance = await requireInstance(store.db, p.dag_id, p.dag_run_id, p.task_id, index);
    const rows = await triesOf(store.db, instance);
    return { task_instances: await taskTryResponses(store.db, rows), total_entries: rows.length };
  };
  const oneTry = async (p: TaskParams, index: number, number: number) => {
    const instance = await requireInstance(store.db, p.dag_id, p.dag_run_id, p.task_id, index);
    const [response] = await taskTryResponses(store.db, [requireTry(await triesOf(store.db, instance), instance, number)]);
    return response;
  };
  app.get<{ Params: TaskParams; Querystring: { map_index: number } }>(
    `${TI}/tries`,
    { config: { access: "viewer" }, schema: { params: params(), querystring: mapIndexQuery } },
    async (request) => tries(request.params, request.query.map_index),
  );
  app.get<{ Params: TaskParams & { task_try_number: number }; Querystring: { map_index: number } }>(
    `${TI}/tries/:task_try_number`,
    { config: { access: "viewer" }, schema: { params: params({ task_try_number: tryNumber }), querystring: mapIndexQuery } },
    async (request) => oneTry(request.params, request.query.map_index, request.params.task_try_number),
  );
  app.get<{ Params: TaskParams & { map_index: number } }>(
    `${TI}/:map_index/tries`,
    { config: { access: "viewer" }, schema: { params: params({ map_index: mapIndex }) } },
    async (request) => tries(request.params, request.params.map_index),
  );
  app.get<{ Params: TaskParams & { map_index: number; task_try_number: number } }>(
    `${TI}/:map_index/tries/:task_try_number`,
    { config: { access: "viewer" }, schema: { params: params({ map_index: mapIndex, task_try_number: tryNumber }) } },
    async (request) => oneTry(request.params, request.params.map_index, request.params.task_try_number),
  );

  app.get<{ Params: TaskParams & { try_number: number }; Querystring: { full_content: boolean; map_index: number; token?: string } }>(
    `${TI}/logs/:try_number`,
    {
      config: { access: "viewer" },
      schema: {
        params: params({ try_number: tryNumber }),
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { full_content: { type: "boolean", default: false }, map_index: { ...mapIndex, default: -1 }, token: { type: "string", maxLength: 1000 } },
        },
      },
    },
    async (request, reply) => {
      const format = logFormat(request.headers.accept);
      const p = request.params;
      const instance = await requireInstance(store.db, p.dag_id, p.dag_run_id, p.task_id, request.query.map_index);
      requireTry(await triesOf(store.db, instance), instance, p.try_number);
      // full_content: the whole log from its start, whatever the token says.
      const token = request.query.full_content ? undefined : request.query.token;
      const read = await readLog(store, instance.id, p.try_number, token);
      if (format === "json") return { content: logMessages(read.text), continuation_token: read.token };
      if (read.token !== null) reply.header(CONTINUATION_HEADER, read.token);
      if (format === "text") return reply.type("text/plain; charset=utf-8").send(read.text);
      return reply.type("application/x-ndjson").send(logMessages(read.text).map((m) => `${JSON.stringify(m)}\n`).join(""));
    },
  );

  app.patch<{ Params: TaskParams; Querystring: { map_index?: number; update_mask?: Array<"new_state" | "note"> }; Body: PatchBody }>(
    TI,
    { config: { access: "user" }, schema: { params: params(), querystring: patchQuery, body: patchBody } },
    async (request) => {
      const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = request.params;
      const { map_index: index, update_mask: mask } = request.query;
      const body = request.body;
      const wants = (field: "new_state" | "note") => field in body && (mask === undefined || mask.includes(field));
      refuse([
        [body.include_past, `include_past ${OTHER_RUNS}`],
        [body.include_future, `include_future ${OTHER_RUNS}`],
        [wants("new_state") && body.new_state === "skipped", "new_state 'skipped' is not supported: Aloft marks task instances success or failed"],
        [wants("new_state") && body.new_state === null, "new_state must be success or failed, not null"],
      ]);
      // The DAG, run and task must exist (404); Aloft's operations change every instance of a task at once.
      const instances = await requireInstances(store.db, dagId, runId, taskId);
      if (index !== undefined) {
        refuse([[instances.some((r) => r.map_index >= 0), "map_index: Aloft marks and annotates every instance of a mapped task together; leave map_index out"]]);
        await requireInstance(store.db, dagId, runId, taskId, index);
      }
      const actor: Actor = { owner: request.user!.username };
      if (wants("new_state")) {
        const state = body.new_state as "success" | "failed";
        const result = await markTaskInstances(store, actor, dagId, runId, taskId, state, { upstream: body.include_upstream, downstream: body.include_downstream });
        if (result.marked.length === 0 && result.resumed.length === 0) throw conflict(`task '${taskId}' of run '${runId}' is already ${state}: nothing was changed`);
      }
      if (wants("note")) await setTaskNote(store, actor, dagId, runId, taskId, body.note ?? null);
      const after = await requireInstances(store.db, dagId, runId, taskId);
      return { task_instances: await taskInstanceResponses(store.db, after), total_entries: after.length };
    },
  );

  app.post<{ Params: { dag_id: string }; Body: ClearBody }>(
    "/api/v2/dags/:dag_id/clearTaskInstances",
    { config: { access: "user" }, schema: { params: { type: "object", required: ["dag_id"], properties: { dag_id: id } }, body: clearBody } },
    async (request) => {
      const dagId = request.params.dag_id;
      const body = request.body;
      const taskIds = body.task_ids ?? [];
      refuse([
        [!body.dag_run_id, "dag_run_id is required: Aloft clears task instances within one run"],
        [Boolean(body.start_date) || Boolean(body.end_date), "start_date and end_date (runs by date) are not supported: name the run in dag_run_id"],
        [body.include_past, `include_past ${OTHER_RUNS}`],
        [body.include_future, `include_future ${OTHER_RUNS}`],
        [body.only_running, "only_running is not supported: Aloft clears failed instances (only_failed) or all of them"],
        [!body.reset_dag_runs, "reset_dag_runs false is not supported: a cleared finished run always goes back to queued, so that its tasks run again"],
        [body.run_on_latest_version, "run_on_latest_version is not supported: a cleared run runs again on the DAG version it started with"],
        [body.prevent_running_task, "prevent_running_task is not supported: a running instance that is cleared is stopped and runs again"],
        [taskIds.some((t) => typeof t !== "string"), "task_ids: [task_id, map_index] pairs are not supported: Aloft clears every instance of a mapped task together; name the task"],
      ]);
      const runId = body.dag_run_id!;
      const result = await clearTaskInstances(store, { owner: request.user!.username }, dagId, runId, {
        taskIds: taskIds as string[],
        upstream: body.include_upstream,
        downstream: body.include_downstream,
        onlyFailed: body.only_failed,
        dryRun: body.dry_run,
      });
      // The instances cleared (or, in a dry run, that would be), as they are now.
      const cleared = new Set(result.cleared.map((c) => `${c.taskId}|${c.mapIndex}`));
      const rows =
        cleared.size === 0
          ? []
          : await withResponseColumns(taskInstanceQuery(store.db))
              .where("dr.dag_id", "=", dagId)
              .where("dr.run_id", "=", runId)
              .where("ti.task_id", "in", [...new Set(result.cleared.map((c) => c.taskId))])
              .orderBy("ti.task_id")
              .orderBy("ti.map_index")
              .execute();
      const instances = rows.filter((r) => cleared.has(`${r.task_id}|${r.map_index}`));
      return { task_instances: await taskInstanceResponses(store.db, instances), total_entries: instances.length };
    },
  );
}
