/**
 * `/api/v2/eventLogs`: the event log (changes made by hand, by the CLI or an API user), in the shape
 * of Airflow's EventLogResponse. Aloft's events name a DAG, run and task at most: the map index, try
 * number and logical date Airflow also records are null.
 */
import type { FastifyInstance } from "fastify";
import type { Selectable } from "kysely";
import type { Store } from "../../store/db.js";
import type { EventLogTable } from "../../store/schema.js";
import { iso, page, pagingQuery, type PagingParams } from "../pagination.js";
import { notFound } from "../problems.js";

type EventLogRow = Selectable<EventLogTable>;

/** The exact-match filters, each on the column of the same name. */
const EXACT = ["dag_id", "task_id", "run_id", "event", "owner"] as const;

interface ListQuery extends PagingParams, Partial<Record<(typeof EXACT)[number], string>> {
  before?: string;
  after?: string;
}

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pagingQuery,
    ...Object.fromEntries(EXACT.map((name) => [name, { type: "string", maxLength: 250 }])),
    before: { type: "string", format: "date-time" },
    after: { type: "string", format: "date-time" },
  },
};

// Airflow's names (event_log_id and when are the API's names of id and dttm).
const ORDER_COLUMNS = {
  id: "id",
  event_log_id: "id",
  dttm: "dttm",
  when: "dttm",
  dag_id: "dag_id",
  task_id: "task_id",
  run_id: "run_id",
  event: "event",
  owner: "owner",
  extra: "extra",
};

export function registerEventLogRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/eventLogs", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const q = request.query;
    let query = store.db.selectFrom("event_log");
    for (const name of EXACT) {
      const value = q[name];
      if (value !== undefined) query = query.where(name, "=", value);
    }
    // As in Airflow, both bounds are strict.
    if (q.before !== undefined) query = query.where("dttm", "<", Date.parse(q.before));
    if (q.after !== undefined) query = query.where("dttm", ">", Date.parse(q.after));
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), q, ORDER_COLUMNS, "id", "id").execute();
    return { event_logs: rows.map(eventLogResponse), total_entries: Number(total.n) };
  });

  app.get<{ Params: { event_log_id: number } }>(
    "/api/v2/eventLogs/:event_log_id",
    {
      config: { access: "viewer" },
      schema: { params: { type: "object", required: ["event_log_id"], properties: { event_log_id: { type: "integer" } } } },
    },
    async (request) => {
      const id = request.params.event_log_id;
      const row = await store.db.selectFrom("event_log").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) throw notFound(`event log ${id} was not found: GET /api/v2/eventLogs lists the events`);
      return eventLogResponse(row);
    },
  );
}

function eventLogResponse(row: EventLogRow) {
  return {
    event_log_id: Number(row.id),
    when: iso(row.dttm)!,
    dag_id: row.dag_id,
    dag_display_name: row.dag_id,
    task_id: row.task_id,
    task_display_name: row.task_id,
    run_id: row.run_id,
    map_index: null,
    try_number: null,
    event: row.event,
    logical_date: null,
    owner: row.owner,
    extra: row.extra,
  };
}
