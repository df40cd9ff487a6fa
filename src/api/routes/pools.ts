/**
 * `/api/v2/pools`: list, get, create, change (slots, description) and delete, in the shapes of
 * Airflow's PoolResponse. Changes are the CLI's operations (setPool, deletePool), which write the
 * event log; so default_pool cannot be deleted (its slots can be changed), as with `aloft pools`.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor, Db } from "../../operations/context.js";
import { deletePool, getPool, listPools, setPool, type PoolStats } from "../../operations/pools.js";
import type { Store } from "../../store/db.js";
import { longText, patches, refuseTeam, teamName, updateMaskQuery } from "../fields.js";
import { matchingPattern, page, pagingQuery, type PagingParams } from "../pagination.js";
import { badRequest, conflict, invalidField } from "../problems.js";

const poolName = { type: "string", minLength: 1, maxLength: 250 } as const;
const nameParam = { type: "object", required: ["pool_name"], properties: { pool_name: poolName } } as const;
type NameParam = { pool_name: string };

interface ListQuery extends PagingParams {
  pool_name_pattern?: string;
}

const listQuery = { type: "object", additionalProperties: false, properties: { ...pagingQuery, pool_name_pattern: { type: "string", maxLength: 250 } } } as const;

// Aloft's pools have no id: Airflow's default order (by id, that is by creation) is by name here.
const ORDER_COLUMNS = { id: "pool", pool: "pool", name: "pool" };

// -1 is Airflow's unlimited, which Aloft refuses (see refuseUnsupported).
const slots = { type: "integer", minimum: -1 } as const;

interface PostBody {
  name: string;
  slots: number;
  description?: string | null;
  include_deferred: boolean;
  team_name?: string | null;
}

const postBody = {
  type: "object",
  required: ["name", "slots"],
  additionalProperties: false,
  // Not blank: setPool refuses a blank name too, but as a 400, which Airflow does not document for POST.
  properties: { name: { ...poolName, pattern: "\\S" }, slots, description: longText, include_deferred: { type: "boolean", default: false }, team_name: teamName },
} as const;

interface PatchBody {
  pool?: string | null;
  slots?: number;
  description?: string | null;
  include_deferred?: boolean | null;
  team_name?: string | null;
}

const PATCH_FIELDS = ["pool", "slots", "description", "include_deferred", "team_name"];

const patchBody = {
  type: "object",
  additionalProperties: false,
  properties: { pool: { type: ["string", "null"], maxLength: 250 }, slots, description: longText, include_deferred: { type: ["boolean", "null"] }, team_name: teamName },
} as const;

/** Airflow's pool options that Aloft cannot honour: refused (422 at the field), never ignored. */
function refuseUnsupported(body: { slots?: number; include_deferred?: boolean | null; team_name?: string | null }): void {
  if (body.slots === -1) throw invalidField(["body", "slots"], "slots -1 (unlimited) is not supported: give the pool a number of slots");
  // Aloft has no deferred tasks: a pool that counts them would promise a figure it cannot make.
  if (body.include_deferred) throw invalidField(["body", "include_deferred"], "include_deferred is not supported: Aloft has no deferred tasks");
  refuseTeam(body);
}

const actorOf = (request: FastifyRequest): Actor => ({ owner: request.user!.username });

export function registerPoolRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: ListQuery }>("/api/v2/pools", { config: { access: "viewer" }, schema: { querystring: listQuery } }, async (request) => {
    const query = matchingPattern(store.db.selectFrom("pool"), "pool", request.query.pool_name_pattern);
    const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const names = await page(query.select("pool"), request.query, ORDER_COLUMNS, "id", "pool").execute();
    // The page's pools with their slots in use; listPools counts them for every pool, and pools are few.
    const stats = new Map((await listPools(store.db)).map((p) => [p.pool, p]));
    const pools = names.map((n) => stats.get(n.pool)).filter((p): p is PoolStats => p !== undefined);
    return { pools: await poolResponses(store.db, pools), total_entries: Number(total.n) };
  });

  app.get<{ Params: NameParam }>("/api/v2/pools/:pool_name", { config: { access: "viewer" }, schema: { params: nameParam } }, async (request) =>
    poolResponse(store.db, await getPool(store.db, request.params.pool_name)),
  );

  app.post<{ Body: PostBody }>("/api/v2/pools", { config: { access: "op" }, schema: { body: postBody } }, async (request, reply) => {
    const { name, slots, description } = request.body;
    refuseUnsupported(request.body);
    const existing = await store.db.selectFrom("pool").select("pool").where("pool", "=", name).executeTakeFirst();
    if (existing) throw conflict(`pool '${name}' already exists: change it with PATCH /api/v2/pools/${name}`);
    const pool = await setPool(store, actorOf(request), name, slots, description ?? null);
    return reply.code(201).send(await poolResponse(store.db, pool));
  });

  app.patch<{ Params: NameParam; Querystring: { update_mask?: string[] }; Body: PatchBody }>(
    "/api/v2/pools/:pool_name",
    { config: { access: "op" }, schema: { params: nameParam, querystring: updateMaskQuery(PATCH_FIELDS), body: patchBody } },
    async (request) => {
      const name = request.params.pool_name;
      const body = request.body;
      const changes = (field: keyof PatchBody) => patches(body, request.query.update_mask, field);
      refuseUnsupported(body);
      // Task instances name their pool: a renamed pool would leave them pointing at none.
      if (changes("pool") && body.pool != null && body.pool !== name) {
        throw badRequest(`pools cannot be renamed: create pool '${body.pool}' (POST /api/v2/pools) and delete '${name}' once no task uses it`);
      }
      const current = await getPool(store.db, name);
      const pool = await setPool(
        store,
        actorOf(request),
        name,
        changes("slots") ? body.slots! : current.slots,
        changes("description") ? (body.description ?? null) : undefined,
      );
      return poolResponse(store.db, pool);
    },
  );

  app.delete<{ Params: NameParam }>("/api/v2/pools/:pool_name", { config: { access: "op" }, schema: { params: nameParam } }, async (request, reply) => {
    // deletePool refuses default_pool and a pool that queued or running tries hold (400).
    await deletePool(store, actorOf(request), request.params.pool_name);
    return reply.code(204).send();
  });
}

async function poolResponse(db: Db, pool: PoolStats) {
  const [response] = await poolResponses(db, [pool]);
  return response;
}

/** PoolResponse for each pool. Aloft has no deferred tasks nor teams: none are counted or named. */
async function poolResponses(db: Db, pools: PoolStats[]) {
  const scheduled = await scheduledSlots(db, pools.map((p) => p.pool));
  return pools.map((p) => ({
    name: p.pool,
    slots: p.slots,
    description: p.description,
    include_deferred: false,
    occupied_slots: p.used + p.queued,
    running_slots: p.used,
    queued_slots: p.queued,
    scheduled_slots: scheduled.get(p.pool) ?? 0,
    open_slots: p.open,
    deferred_slots: 0,
    team_name: null,
  }));
}

/** The slots that scheduled task instances will take from each pool once queued (listPools counts queued and running ones). */
async function scheduledSlots(db: Db, names: string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await db
    .selectFrom("task_instance")
    .select((eb) => ["pool", eb.fn.sum<number>("pool_slots").as("slots")])
    .where("state", "=", "scheduled")
    .where("pool", "in", names)
    .groupBy("pool")
    .execute();
  return new Map(rows.map((r) => [r.pool, Number(r.slots)]));
}
