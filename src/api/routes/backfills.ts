/**
 * `/api/v2/backfills`: list, get, create, pause, unpause and cancel, in the shapes of Airflow's
 * BackfillResponse, through the backfill code `aloft backfill` uses, with the same events logged
 * under the API user.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { UsageError } from "../../errors.js";
import { logEvent, type Actor } from "../../operations/context.js";
import { cancelBackfill, createBackfill, DEFAULT_BACKFILL_MAX_ACTIVE_RUNS, REPROCESS_CHOICES, setBackfillPaused } from "../../scheduler/backfill.js";
import type { Store } from "../../store/db.js";
import type { BackfillReprocess, BackfillRow } from "../../store/schema.js";
import { iso, page, pagingQuery, type PagingParams } from "../pagination.js";
import { badRequest, conflict, notFound } from "../problems.js";

const idString = { type: "string", minLength: 1, maxLength: 250 } as const;
const idParam = { type: "object", required: ["backfill_id"], properties: { backfill_id: { type: "integer", minimum: 0 } } } as const;

interface ListQuery extends PagingParams {
  dag_id?: string;
}

// Airflow requires dag_id; without it Aloft lists every DAG's backfills.
const listQuery = { type: "object", additionalProperties: false, properties: { ...pagingQuery, dag_id: idString } } as const;

interface CreateBody {
  dag_id: string;
  from_date: string;
  to_date: string;
  run_backwards: boolean;
  dag_run_conf: Record<string, unknown>;
  reprocess_behavior: BackfillReprocess;
  max_active_runs: number;
  run_on_latest_version: boolean;
}

const createBody = {
  type: "object",
  required: ["dag_id", "from_date", "to_date"],
  additionalProperties: false,
  properties: {
    dag_id: idString,
    from_date: { type: "string", format: "date-time" },
    to_date: { type: "string", format: "date-time" },
    run_backwards: { type: "boolean", default: false },
    dag_run_conf: { type: "object", default: {} },
    reprocess_behavior: { type: "string", enum: REPROCESS_CHOICES, default: "none" },
    max_active_runs: { type: "integer", minimum: 1, default: DEFAULT_BACKFILL_MAX_ACTIVE_RUNS },
    run_on_latest_version: { type: "boolean", default: true },
  },
};

/** What the CLI's `aloft backfill pause|unpause|cancel` do, by the same names (and events `backfill_<action>`). */
const ACTIONS = ["pause", "unpause", "cancel"] as const;

const actorOf = (request: FastifyRequest): Actor => ({ owner: request.user!.username });

export function registerBackfillRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/backfills", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const q = request.query;
    let query = store.db.selectFrom("backfill");
    if (q.dag_id !== undefined) query = query.where("dag_id", "=", q.dag_id);
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await page(query.selectAll(), q, { id: "id" }, "id", "id").execute();
    return { backfills: rows.map(backfillResponse), total_entries: Number(total.n) };
  });

  app.get<{ Params: { backfill_id: number } }>("/api/v2/backfills/:backfill_id", { config: { access: "viewer" }, schema: { params: idParam } }, async (request) =>
    backfillResponse(await requireBackfillRow(store, request.params.backfill_id)),
  );

  app.post<{ Body: CreateBody }>("/api/v2/backfills", { config: { access: "user" }, schema: { body: createBody } }, async (request) => {
    const body = request.body;
    if (!body.run_on_latest_version) {
      throw badRequest("Aloft cannot honour run_on_latest_version=false: every run of a backfill, new or re-run, runs on the DAG's latest version");
    }
    const from = Date.parse(body.from_date);
    const to = Date.parse(body.to_date);
    // Checked here so that the answer names the API's fields (createBackfill names the CLI's flags).
    if (from > to) throw badRequest(`from_date (${body.from_date}) is after to_date (${body.to_date})`);
    const { backfill } = await createBackfill(store, {
      dagId: body.dag_id,
      from,
      to,
      maxActiveRuns: body.max_active_runs,
      reprocess: body.reprocess_behavior,
      runBackwards: body.run_backwards,
      conf: body.dag_run_conf,
    });
    // Not a dry run, so there is a row.
    const row = backfill!;
    await logEvent(store.db, actorOf(request), "backfill_create", { dagId: row.dag_id }, { id: row.id, from: body.from_date, to: body.to_date });
    return backfillResponse(row);
  });

  // PUT, as in Airflow's API.
  for (const action of ACTIONS) {
    app.put<{ Params: { backfill_id: number } }>(
      `/api/v2/backfills/:backfill_id/${action}`,
      { config: { access: "user" }, schema: { params: idParam } },
      async (request) => {
        const id = request.params.backfill_id;
        const row = await requireBackfillRow(store, id);
        try {
          if (action === "cancel") await cancelBackfill(store, id);
          else await setBackfillPaused(store, id, action === "pause");
        } catch (error) {
          // The backfill has completed or was cancelled: Airflow answers 409.
          if (error instanceof UsageError) throw conflict(error.message);
          throw error;
        }
        await logEvent(store.db, actorOf(request), `backfill_${action}`, { dagId: row.dag_id }, { id });
        return backfillResponse(await requireBackfillRow(store, id));
      },
    );
  }
}

async function requireBackfillRow(store: Store, id: number): Promise<BackfillRow> {
  const row = await store.db.selectFrom("backfill").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw notFound(`backfill ${id} was not found: GET /api/v2/backfills lists the backfills`);
  return row;
}

function backfillResponse(row: BackfillRow) {
  return {
    id: Number(row.id),
    dag_id: row.dag_id,
    dag_display_name: row.dag_id,
    from_date: iso(row.from_date)!,
    to_date: iso(row.to_date)!,
    dag_run_conf: JSON.parse(row.conf) as Record<string, unknown>,
    is_paused: row.is_paused === 1,
    reprocess_behavior: row.reprocess,
    max_active_runs: row.max_active_runs,
    created_at: iso(row.created_at)!,
    completed_at: iso(row.completed_at),
    // Aloft records when a backfill was created and when it ended, not when it was paused.
    updated_at: iso(row.completed_at ?? row.created_at)!,
  };
}
