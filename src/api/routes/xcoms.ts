/**
 * The XComs of a task instance, in the shapes of Airflow's XComResponse: the list
 * (`.../taskInstances/{task_id}/xcomEntries`) and one entry with its value (`.../xcomEntries/{xcom_key}`).
 * Aloft's XCom values are plain JSON, so the stored value is already the deserialized one.
 */
import type { FastifyInstance } from "fastify";
import type { Selectable } from "kysely";
import type { Store } from "../../store/db.js";
import type { XcomTable } from "../../store/schema.js";
import { iso, matchingPattern, page, pagingQuery } from "../pagination.js";
import { badRequest, notFound } from "../problems.js";
import { requireInstance, requireInstances } from "../task-instances/lookup.js";
import type { TaskInstanceRow } from "../task-instances/shapes.js";

const XCOMS = "/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/xcomEntries";

/** `~` in the path: every DAG, run or task, as in Airflow; Aloft lists the XComs of one task instance. */
const ALL = "~";

const id = { type: "string", minLength: 1, maxLength: 250 } as const;
const mapIndex = { type: "integer", minimum: -1 } as const;

interface TaskParams {
  dag_id: string;
  dag_run_id: string;
  task_id: string;
}

const taskParams = { type: "object", required: ["dag_id", "dag_run_id", "task_id"], properties: { dag_id: id, dag_run_id: id, task_id: id } } as const;
const keyParams = { type: "object", required: [...taskParams.required, "xcom_key"], properties: { ...taskParams.properties, xcom_key: id } } as const;

/** The spec's filters over several DAGs, runs or tasks (with `~` in the path): refused with a 400 naming them, not ignored. */
const ACROSS_TASKS = [
  "dag_display_name_pattern",
  "run_id_pattern",
  "task_id_pattern",
  ...["logical_date", "run_after"].flatMap((field) => ["gte", "gt", "lte", "lt"].map((bound) => `${field}_${bound}`)),
];

interface ListQuery {
  limit: number;
  offset: number;
  xcom_key?: string;
  xcom_key_pattern?: string;
  map_index?: number;
  map_index_filter?: number;
  [acrossTasks: string]: unknown;
}

// No order_by: Airflow's list of XComs takes none (it is ordered by map index, then key).
const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: pagingQuery.limit,
    offset: pagingQuery.offset,
    xcom_key: id,
    xcom_key_pattern: id,
    map_index: mapIndex,
    map_index_filter: mapIndex,
    ...Object.fromEntries(ACROSS_TASKS.map((param) => [param, { type: "string", maxLength: 250 }])),
  },
};

interface EntryQuery {
  map_index: number;
  deserialize: boolean;
  stringify: boolean;
}

const entryQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    map_index: { ...mapIndex, default: -1 },
    // Honoured as it is: the stored JSON is the deserialized value.
    deserialize: { type: "boolean", default: false },
    stringify: { type: "boolean", default: false },
  },
} as const;

export function registerXcomRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: TaskParams; Querystring: ListQuery }>(XCOMS, { config: { access: "viewer" }, schema: { params: taskParams, querystring: listQuery } }, async (request) => {
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = request.params;
    const q = request.query;
    if ([dagId, runId, taskId].includes(ALL)) throw badRequest("'~' (every DAG, run or task) is not supported for XComs: name the DAG, run and task whose XComs to list");
    const across = ACROSS_TASKS.filter((param) => q[param] !== undefined);
    if (across.length > 0) throw badRequest(`${across.join(", ")}: filters over several runs or tasks are not supported; the list is of the task named in the path`);
    const instances = await requireInstances(store.db, dagId, runId, taskId);
    let query = store.db
      .selectFrom("xcom")
      .where("ti_id", "in", (eb) => eb.selectFrom("task_instance").select("id").where("dag_run_id", "=", instances[0]!.dag_run_id).where("task_id", "=", taskId));
    if (q.xcom_key !== undefined) query = query.where("key", "=", q.xcom_key);
    // map_index_filter is the same filter as map_index in Airflow.
    for (const index of [q.map_index, q.map_index_filter]) if (index !== undefined) query = query.where("map_index", "=", index);
    query = matchingPattern(query, "key", q.xcom_key_pattern);
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), q, { map_index: "map_index" }, "map_index", "key").execute();
    return { xcom_entries: rows.map((row) => xcomResponse(row, instances[0]!)), total_entries: Number(total.n) };
  });

  app.get<{ Params: TaskParams & { xcom_key: string }; Querystring: EntryQuery }>(
    `${XCOMS}/:xcom_key`,
    { config: { access: "viewer" }, schema: { params: keyParams, querystring: entryQuery } },
    async (request) => {
      const { dag_id: dagId, dag_run_id: runId, task_id: taskId, xcom_key: key } = request.params;
      const instance = await requireInstance(store.db, dagId, runId, taskId, request.query.map_index);
      const row = await store.db.selectFrom("xcom").selectAll().where("ti_id", "=", instance.id).where("key", "=", key).executeTakeFirst();
      if (!row) {
        const keys = await store.db.selectFrom("xcom").select("key").where("ti_id", "=", instance.id).orderBy("key").execute();
        const known = keys.length === 0 ? "it has none (yet)" : `its keys are ${keys.map((k) => `'${k.key}'`).join(", ")}`;
        const which = instance.map_index >= 0 ? ` [${instance.map_index}]` : "";
        throw notFound(`task '${taskId}'${which} of run '${runId}' has no XCom '${key}': ${known}`);
      }
      const value = JSON.parse(row.value) as unknown;
      // stringify: Airflow's XComResponseString; the value as JSON text (a string as it is).
      return { ...xcomResponse(row, instance), value: request.query.stringify && typeof value !== "string" ? JSON.stringify(value) : value };
    },
  );
}

/** XComResponse; the run's dates are those of the instance, which has its run's. */
function xcomResponse(row: Selectable<XcomTable>, instance: TaskInstanceRow) {
  return {
    key: row.key,
    timestamp: iso(row.created_at)!,
    map_index: row.map_index,
    task_id: row.task_id,
    task_display_name: row.task_id,
    dag_id: row.dag_id,
    dag_display_name: row.dag_id,
    run_id: row.run_id,
    logical_date: iso(instance.logical_date),
    run_after: iso(instance.run_after)!,
  };
}
