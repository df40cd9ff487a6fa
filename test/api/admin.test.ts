/**
 * The deployment's settings and what DAGs left behind, through the API on every dialect: pools,
 * variables, connections, import errors and XComs. Every response is checked against Airflow's spec
 * for its operation and status; the changes are checked in the DB, in the event log, and in what the
 * engine does with them (a task waits for its pool, reads the connection the API stored).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { findConnection } from "../../src/runtime/connections.js";
import { SecretBox } from "../../src/runtime/secrets.js";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { waitFor } from "../helpers/aloft.js";
import { useApi, type CallOptions } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";

const DAGS = {
  "xcoms.ts": `import { dag, task } from "aloft";
dag("xcoms", { schedule: null }, () => {
  task("produce", async (ctx) => {
    await ctx.xcom.push("row_count", 1200);
    return { files: ["a.csv", "b.csv"], ok: true };
  });
  task("square", (ctx) => (ctx.item as number) ** 2).expand(task("numbers", () => [1, 2, 3]));
  task("silent", () => undefined);
});
`,
  // Waits, scheduled, until its pool has a free slot.
  "pooled.ts": `import { dag, task } from "aloft";
dag("pooled", { schedule: null }, () => { task("t", () => 1, { pool: "tiny" }); });
`,
  // What the API stored, as a task reads it: it answers whether each secret is the one the test wrote.
  "reader.ts": `import { dag, task } from "aloft";
dag("reader", { schedule: null }, () => {
  task("read", async (ctx) => {
    const conn = await ctx.connections.get("reader_conn");
    return {
      password: conn.password === "reader-pass",
      token: conn.extra.token === "reader-token",
      variable: (await ctx.variables.get("reader_secret")) === "reader-var",
    };
  });
});
`,
  "broken_a.ts": `throw new Error("broken on purpose A");`,
  "broken_b.ts": `throw new Error("broken on purpose B");`,
};

const POOLS = "/api/v2/pools";
const POOL = "/api/v2/pools/{pool_name}";
const VARIABLES = "/api/v2/variables";
const VARIABLE = "/api/v2/variables/{variable_key}";
const CONNECTIONS = "/api/v2/connections";
const CONNECTION = "/api/v2/connections/{connection_id}";
const IMPORT_ERRORS = "/api/v2/importErrors";
const IMPORT_ERROR = "/api/v2/importErrors/{import_error_id}";
const XCOMS = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries";
const XCOM = `${XCOMS}/{xcom_key}`;

type Method = "GET" | "POST" | "PATCH" | "DELETE";
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

for (const factory of testDialects()) {
  describe(`API pools, variables, connections, import errors and XComs on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);
    const db = () => harness.store.db;

    /** Calls the API, asserts the status, checks the body (when there is one) against the spec's operation. */
    async function expect(method: Method, url: string, specPath: string, status: number, options: CallOptions = {}): Promise<LightMyRequestResponse> {
      const response = await api.call(method, url, options);
      assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
      if (status !== 204) assertMatchesSpec(method, specPath, status, response.json());
      return response;
    }
    const json = async (method: Method, url: string, specPath: string, status = 200, options: CallOptions = {}) =>
      (await expect(method, url, specPath, status, options)).json<Json>();
    const asOp = (body?: unknown): CallOptions => ({ as: "op", body });

    /** The settings rows and the event log's length: what a refused request must leave as it was (a rewrite re-encrypts, so it shows). */
    async function snapshot() {
      const events = await db().selectFrom("event_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      return {
        pools: await db().selectFrom("pool").selectAll().orderBy("pool").execute(),
        variables: await db().selectFrom("variable").select(["key", "value", "description"]).orderBy("key").execute(),
        connections: await db().selectFrom("connection").selectAll().orderBy("conn_id").execute(),
        events: Number(events.n),
      };
    }

    const lastEventId = async () => Number((await db().selectFrom("event_log").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst())?.id ?? 0);
    const eventsAfter = (id: number) => db().selectFrom("event_log").select(["event", "owner", "extra"]).where("id", ">", id).orderBy("id").execute();

    describe("pools", () => {
      test("an op creates pools (201), a viewer reads them; the list pages, orders and filters by name; the event log names who created them", async () => {
        const since = await lastEventId();
        const created = await json("POST", "/api/v2/pools", POOLS, 201, asOp({ name: "etl_pool", slots: 4, description: "for ETL" }));
        assert.deepEqual(created, {
          name: "etl_pool",
          slots: 4,
          description: "for ETL",
          include_deferred: false,
          occupied_slots: 0,
          running_slots: 0,
          queued_slots: 0,
          scheduled_slots: 0,
          open_slots: 4,
          deferred_slots: 0,
          team_name: null,
        });
        await json("POST", "/api/v2/pools", POOLS, 201, { as: "admin", body: { name: "ml_pool", slots: 2, include_deferred: false, team_name: null } });

        const one = await json("GET", "/api/v2/pools/etl_pool", POOL);
        assert.deepEqual(one, created);
        const names = (body: Json) => body.pools.map((p: Json) => p.name);
        const all = await json("GET", "/api/v2/pools", POOLS);
        assert.deepEqual(names(all), ["default_pool", "etl_pool", "ml_pool"]);
        assert.equal(all.total_entries, 3);
        assert.equal(all.pools[0].slots, 128);
        const paged = await json("GET", "/api/v2/pools?limit=1&offset=1", POOLS);
        assert.deepEqual([names(paged), paged.total_entries], [["etl_pool"], 3]);
        assert.deepEqual(names(await json("GET", "/api/v2/pools?order_by=-name", POOLS)), ["ml_pool", "etl_pool", "default_pool"]);
        const found = await json("GET", "/api/v2/pools?pool_name_pattern=ETL", POOLS);
        assert.deepEqual([names(found), found.total_entries], [["etl_pool"], 1]);
        assert.deepEqual(names(await json("GET", `/api/v2/pools?pool_name_pattern=${encodeURIComponent("etl | ml%")}`, POOLS)), ["etl_pool", "ml_pool"]);

        const events = await eventsAfter(since);
        assert.deepEqual(events.map((e) => [e.event, e.owner]), [["pool_create", "op"], ["pool_create", "admin"]]);
      });

      test("roles: a viewer or a user cannot create, change or delete a pool (403 naming the role needed); nothing changes", async () => {
        const before = await snapshot();
        for (const as of ["viewer", "user"] as const) {
          const denied = await json("POST", "/api/v2/pools", POOLS, 403, { as, body: { name: "sneaky", slots: 1 } });
          assert.match(denied.detail, /needs role 'op'/);
          await json("PATCH", "/api/v2/pools/etl_pool", POOL, 403, { as, body: { slots: 99 } });
          await json("DELETE", "/api/v2/pools/etl_pool", POOL, 403, { as });
        }
        await json("GET", "/api/v2/pools", POOLS, 401, { as: null });
        assert.deepEqual(await snapshot(), before);
      });

      test("patch: slots and description, each kept when left out; update_mask changes only what it names; default_pool's slots can be changed", async () => {
        const since = await lastEventId();
        const slots = await json("PATCH", "/api/v2/pools/etl_pool", POOL, 200, asOp({ slots: 6 }));
        assert.deepEqual([slots.slots, slots.open_slots, slots.description], [6, 6, "for ETL"]);
        const described = await json("PATCH", "/api/v2/pools/etl_pool?update_mask=description", POOL, 200, asOp({ slots: 99, description: "ETL jobs" }));
        assert.deepEqual([described.slots, described.description], [6, "ETL jobs"]);
        const cleared = await json("PATCH", "/api/v2/pools/etl_pool", POOL, 200, asOp({ description: null, pool: "etl_pool" }));
        assert.deepEqual([cleared.slots, cleared.description], [6, null]);
        assert.deepEqual(await db().selectFrom("pool").select(["slots", "description"]).where("pool", "=", "etl_pool").executeTakeFirstOrThrow(), { slots: 6, description: null });

        assert.equal((await json("PATCH", "/api/v2/pools/default_pool", POOL, 200, asOp({ slots: 64 }))).slots, 64);
        assert.equal((await json("GET", "/api/v2/pools/default_pool", POOL)).slots, 64);
        await json("PATCH", "/api/v2/pools/default_pool?update_mask=slots", POOL, 200, asOp({ slots: 128 }));
        const events = await eventsAfter(since);
        assert.deepEqual(events.map((e) => [e.event, e.owner]), Array(5).fill(["pool_update", "op"]));
      });

      test("bad input changes nothing: an unknown field is a 422 naming it, a duplicate 409, a missing pool 404, default_pool cannot be deleted, Airflow options Aloft lacks are refused", async () => {
        const before = await snapshot();
        const unknown = await json("POST", "/api/v2/pools", POOLS, 422, asOp({ name: "p", slots: 1, owner: "me" }));
        assert.deepEqual(unknown.detail[0].loc, ["body", "owner"]);
        assert.match(unknown.detail[0].msg, /unknown field 'owner'/);
        const unknownPatch = await json("PATCH", "/api/v2/pools/etl_pool", POOL, 422, asOp({ slots: 1, colour: "red" }));
        assert.deepEqual(unknownPatch.detail[0].loc, ["body", "colour"]);
        await json("PATCH", "/api/v2/pools/etl_pool?update_mask=owner", POOL, 422, asOp({ slots: 1 }));
        await json("PATCH", "/api/v2/pools/etl_pool", POOL, 422, asOp({ slots: -5 }));
        await json("POST", "/api/v2/pools", POOLS, 422, asOp({ name: "no_slots" }));
        await json("POST", "/api/v2/pools", POOLS, 422, asOp({ name: "  ", slots: 1 }));

        const duplicate = await json("POST", "/api/v2/pools", POOLS, 409, asOp({ name: "etl_pool", slots: 1 }));
        assert.match(duplicate.detail, /etl_pool/);
        for (const [method, options] of [["GET", {}], ["PATCH", asOp({ slots: 1 })], ["DELETE", asOp()]] as const) {
          const missing = await json(method, "/api/v2/pools/no_such_pool", POOL, 404, options);
          assert.match(missing.detail, /no_such_pool/);
        }
        const keep = await json("DELETE", "/api/v2/pools/default_pool", POOL, 400, asOp());
        assert.match(keep.detail, /default_pool cannot be deleted/);

        // Airflow's options that Aloft cannot honour: 422 at the field, saying why; a rename is a 400.
        const refusals: Array<[Json, string, RegExp]> = [
          [{ name: "unlimited", slots: -1 }, "slots", /unlimited/],
          [{ name: "deferring", slots: 1, include_deferred: true }, "include_deferred", /deferred/],
          [{ name: "teamed", slots: 1, team_name: "blue" }, "team_name", /teams/],
        ];
        for (const [body, field, why] of refusals) {
          const refused = await json("POST", "/api/v2/pools", POOLS, 422, asOp(body));
          assert.deepEqual(refused.detail[0].loc, ["body", field]);
          assert.match(refused.detail[0].msg, why);
        }
        const rename = await json("PATCH", "/api/v2/pools/etl_pool", POOL, 400, asOp({ pool: "renamed" }));
        assert.match(rename.detail, /cannot be renamed/);
        assert.deepEqual(await snapshot(), before);
      });

      test("a task waits while its pool has no free slot (scheduled_slots counts it); raising the slots lets it run", async () => {
        await json("POST", "/api/v2/pools", POOLS, 201, asOp({ name: "tiny", slots: 0 }));
        const runId = await harness.trigger("pooled");
        await waitFor("the pooled task to wait, scheduled", async () => ((await harness.taskStates("pooled", runId)).t === "scheduled" ? true : undefined));
        const waiting = await json("GET", "/api/v2/pools/tiny", POOL);
        assert.deepEqual([waiting.scheduled_slots, waiting.occupied_slots, waiting.open_slots], [1, 0, 0]);
        await json("PATCH", "/api/v2/pools/tiny", POOL, 200, asOp({ slots: 1 }));
        assert.equal((await harness.waitForRun("pooled", runId)).state, "success");
        assert.equal((await json("GET", "/api/v2/pools/tiny", POOL)).scheduled_slots, 0);
      });

      test("delete: 204, then the pool is gone (404) and the deletion is logged", async () => {
        const since = await lastEventId();
        await expect("DELETE", "/api/v2/pools/ml_pool", POOL, 204, asOp());
        await json("GET", "/api/v2/pools/ml_pool", POOL, 404);
        assert.deepEqual((await eventsAfter(since)).map((e) => [e.event, e.owner]), [["pool_delete", "op"]]);
      });
    });

    describe("variables", () => {
      test("an op creates, changes and deletes a variable, a viewer reads it; each change is logged with the username", async () => {
        const since = await lastEventId();
        const created = await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "source_bucket", value: "s3://sales-raw", description: "where extracts land" }));
        assert.deepEqual(created, { key: "source_bucket", value: "s3://sales-raw", description: "where extracts land", is_encrypted: true, team_name: null });
        assert.deepEqual(await json("GET", "/api/v2/variables/source_bucket", VARIABLE), created);

        const value = await json("PATCH", "/api/v2/variables/source_bucket", VARIABLE, 200, asOp({ key: "source_bucket", value: "s3://sales-clean" }));
        assert.deepEqual([value.value, value.description], ["s3://sales-clean", "where extracts land"]);
        const described = await json("PATCH", "/api/v2/variables/source_bucket?update_mask=description", VARIABLE, 200, asOp({ key: "source_bucket", value: "ignored", description: "cleaned" }));
        assert.deepEqual([described.value, described.description], ["s3://sales-clean", "cleaned"]);

        await expect("DELETE", "/api/v2/variables/source_bucket", VARIABLE, 204, asOp());
        await json("GET", "/api/v2/variables/source_bucket", VARIABLE, 404);
        const events = await eventsAfter(since);
        assert.deepEqual(
          events.map((e) => [e.event, e.owner, e.extra]),
          [
            ["variable.set", "op", "source_bucket"],
            ["variable.set", "op", "source_bucket"],
            ["variable.set", "op", "source_bucket"],
            ["variable.delete", "op", "source_bucket"],
          ],
        );
      });

      test("a value that is not a string is kept as its JSON; the list pages, orders and filters by key; a key with a slash is reached encoded", async () => {
        const structured = await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "thresholds", value: { max_rows: 100000 } }));
        assert.equal(structured.value, '{"max_rows":100000}');
        await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "alpha", value: "a" }));
        await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "beta/one", value: "b" }));
        await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "count", value: 3 }));

        const keys = (body: Json) => body.variables.map((v: Json) => v.key);
        const all = await json("GET", "/api/v2/variables", VARIABLES);
        assert.deepEqual([keys(all), all.total_entries], [["alpha", "beta/one", "count", "thresholds"], 4]);
        assert.equal(all.variables[2].value, "3");
        const paged = await json("GET", "/api/v2/variables?limit=2&offset=1&order_by=-key", VARIABLES);
        assert.deepEqual([keys(paged), paged.total_entries], [["count", "beta/one"], 4]);
        const found = await json("GET", "/api/v2/variables?variable_key_pattern=BETA", VARIABLES);
        assert.deepEqual([keys(found), found.total_entries], [["beta/one"], 1]);
        assert.equal((await json("GET", `/api/v2/variables/${encodeURIComponent("beta/one")}`, VARIABLE)).value, "b");
      });

      test("a variable whose key names a secret is *** in every response, a JSON value has its secret fields masked; the stored value is encrypted", async () => {
        const secret = "hunter2-never-shown";
        const responses = [
          await expect("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "db_password", value: secret })),
          await expect("GET", "/api/v2/variables/db_password", VARIABLE, 200),
          await expect("GET", "/api/v2/variables", VARIABLES, 200),
          await expect("GET", "/api/v2/variables?variable_key_pattern=password", VARIABLES, 200),
          await expect("PATCH", "/api/v2/variables/db_password", VARIABLE, 200, asOp({ key: "db_password", value: `${secret}-2` })),
        ];
        for (const response of responses) assert.ok(!response.body.includes(secret), `the secret is in ${response.body}`);
        assert.equal(responses[1]!.json().value, "***");
        assert.equal(responses[4]!.json().value, "***");
        assert.equal(responses[3]!.json().variables[0].value, "***");

        const config = await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "service_cfg", value: { host: "h", api_key: "k-never-shown", auth: { token: "t-never-shown" } } }));
        assert.deepEqual(JSON.parse(config.value), { host: "h", api_key: "***", auth: { token: "***" } });
        const listed = await expect("GET", "/api/v2/variables", VARIABLES, 200);
        assert.ok(!/never-shown/.test(listed.body), listed.body);

        const row = await db().selectFrom("variable").selectAll().where("key", "=", "db_password").executeTakeFirstOrThrow();
        assert.equal(row.is_encrypted, 1);
        assert.ok(row.value.startsWith("v1:") && !row.value.includes(secret), row.value);
      });

      test("bad input changes nothing: unknown field 422 naming it, a key Aloft cannot store 422, duplicate 409, missing 404, another key in the body 400; a user cannot change variables", async () => {
        const before = await snapshot();
        const unknown = await json("POST", "/api/v2/variables", VARIABLES, 422, asOp({ key: "x", value: "y", secret: true }));
        assert.deepEqual(unknown.detail[0].loc, ["body", "secret"]);
        assert.match(unknown.detail[0].msg, /unknown field 'secret'/);
        const badKey = await json("POST", "/api/v2/variables", VARIABLES, 422, asOp({ key: "has space", value: "y" }));
        assert.deepEqual(badKey.detail[0].loc, ["body", "key"]);
        await json("POST", "/api/v2/variables", VARIABLES, 422, asOp({ key: "no_value" }));
        const team = await json("POST", "/api/v2/variables", VARIABLES, 422, asOp({ key: "teamed", value: "y", team_name: "blue" }));
        assert.deepEqual(team.detail[0].loc, ["body", "team_name"]);

        const duplicate = await json("POST", "/api/v2/variables", VARIABLES, 409, asOp({ key: "alpha", value: "overwritten?" }));
        assert.match(duplicate.detail, /alpha/);
        assert.equal((await json("GET", "/api/v2/variables/alpha", VARIABLE)).value, "a");
        await json("GET", "/api/v2/variables/no_such_var", VARIABLE, 404);
        const missing = await json("PATCH", "/api/v2/variables/no_such_var", VARIABLE, 404, asOp({ key: "no_such_var", value: "v" }));
        assert.match(missing.detail, /no_such_var/);
        await json("DELETE", "/api/v2/variables/no_such_var", VARIABLE, 404, asOp());
        const other = await json("PATCH", "/api/v2/variables/alpha", VARIABLE, 400, asOp({ key: "beta/one", value: "v" }));
        assert.match(other.detail, /beta\/one/);

        for (const as of ["viewer", "user"] as const) {
          await json("POST", "/api/v2/variables", VARIABLES, 403, { as, body: { key: "sneaky", value: "v" } });
          await json("PATCH", "/api/v2/variables/alpha", VARIABLE, 403, { as, body: { key: "alpha", value: "v" } });
          await json("DELETE", "/api/v2/variables/alpha", VARIABLE, 403, { as });
        }
        assert.deepEqual(await snapshot(), before);
      });
    });

    describe("connections", () => {
      const PASSWORD = "pa55-w0rd-never-shown";
      // The box the CLI and the engine open on the same home and secret_key.
      let box: SecretBox | undefined;
      const stored = (connId: string) => findConnection(harness.store.db, (box ??= SecretBox.open(harness.config.secretKey, harness.config.home)), connId);

      test("a connection created with a password never shows it, in any response; secret extras are masked; the stored row is encrypted", async () => {
        const since = await lastEventId();
        const extra = { sslmode: "require", api_key: "ak-never-shown", nested: { secret: "nested-never-shown" } };
        const body = {
          connection_id: "warehouse",
          conn_type: "postgres",
          host: "db.example",
          port: 5432,
          login: "etl",
          schema: "sales",
          password: PASSWORD,
          extra: JSON.stringify(extra),
          description: "the warehouse",
        };
        const created = await expect("POST", "/api/v2/connections", CONNECTIONS, 201, asOp(body));
        const responses = [
          created,
          await expect("GET", "/api/v2/connections/warehouse", CONNECTION, 200),
          await expect("GET", "/api/v2/connections", CONNECTIONS, 200),
          await expect("GET", "/api/v2/connections?connection_id_pattern=WARE", CONNECTIONS, 200),
          await expect("PATCH", "/api/v2/connections/warehouse", CONNECTION, 200, asOp({ connection_id: "warehouse", conn_type: "postgres", host: "db.example" })),
        ];
        for (const response of responses) {
          assert.ok(!response.body.includes(PASSWORD) && !/never-shown/.test(response.body), `a secret is in ${response.body}`);
        }
        assert.deepEqual(created.json(), {
          connection_id: "warehouse",
          conn_type: "postgres",
          description: "the warehouse",
          host: "db.example",
          login: "etl",
          schema: "sales",
          port: 5432,
          password: null,
          extra: JSON.stringify({ sslmode: "require", api_key: "***", nested: { secret: "***" } }),
          team_name: null,
        });
        assert.deepEqual(responses[1]!.json(), created.json());
        assert.equal(responses[3]!.json().total_entries, 1);

        const row = await db().selectFrom("connection").selectAll().where("conn_id", "=", "warehouse").executeTakeFirstOrThrow();
        assert.ok(row.password!.startsWith("v1:") && !row.password!.includes(PASSWORD), row.password!);
        assert.ok(row.extra!.startsWith("v1:") && !row.extra!.includes("ak-never-shown"), row.extra!);
        // The CLI's box (the same secret_key) reads what the API stored.
        const conn = await stored("warehouse");
        assert.equal(conn?.password, PASSWORD);
        assert.deepEqual(conn?.extra, extra);
        assert.deepEqual((await eventsAfter(since)).map((e) => [e.event, e.owner, e.extra]), [
          ["connection.add", "op", "warehouse"],
          ["connection.update", "op", "warehouse"],
        ]);
      });

      test("a task reads the connection and the variable the API stored, secrets and all", async () => {
        await json("POST", "/api/v2/connections", CONNECTIONS, 201, asOp({ connection_id: "reader_conn", conn_type: "http", password: "reader-pass", extra: '{"token": "reader-token"}' }));
        await json("POST", "/api/v2/variables", VARIABLES, 201, asOp({ key: "reader_secret", value: "reader-var" }));
        const runId = await harness.trigger("reader");
        const { state } = await harness.waitForRun("reader", runId);
        assert.equal(state, "success", await harness.log("reader", runId, "read") ?? "");
        const xcom = await json("GET", `/api/v2/dags/reader/dagRuns/${encodeURIComponent(runId)}/taskInstances/read/xcomEntries/return_value`, XCOM);
        assert.deepEqual(xcom.value, { password: true, token: true, variable: true });
      });

      test("patch: a field left out keeps its value, the password too; update_mask changes only what it names; the password can be replaced and removed", async () => {
        const since = await lastEventId();
        const url = "/api/v2/connections/warehouse";
        const moved = await json("PATCH", url, CONNECTION, 200, asOp({ connection_id: "warehouse", conn_type: "postgres", host: "db2.example" }));
        assert.deepEqual([moved.host, moved.port, moved.login, moved.description], ["db2.example", 5432, "etl", "the warehouse"]);
        assert.equal((await stored("warehouse"))?.password, PASSWORD);

        const masked = await json("PATCH", `${url}?update_mask=port`, CONNECTION, 200, asOp({ connection_id: "warehouse", conn_type: "mysql", port: 6432, password: "not this" }));
        assert.deepEqual([masked.conn_type, masked.port], ["postgres", 6432]);
        assert.equal((await stored("warehouse"))?.password, PASSWORD);

        const replaced = await expect("PATCH", url, CONNECTION, 200, asOp({ connection_id: "warehouse", conn_type: "postgres", password: "new-pass-never-shown" }));
        assert.ok(!/never-shown/.test(replaced.body));
        assert.equal((await stored("warehouse"))?.password, "new-pass-never-shown");
        const extra = await json("PATCH", url, CONNECTION, 200, asOp({ connection_id: "warehouse", conn_type: "postgres", extra: "" }));
        assert.equal(extra.extra, null);
        await json("PATCH", url, CONNECTION, 200, asOp({ connection_id: "warehouse", conn_type: "postgres", password: null }));
        assert.equal((await stored("warehouse"))?.password, null);
        assert.equal((await db().selectFrom("connection").select("password").where("conn_id", "=", "warehouse").executeTakeFirstOrThrow()).password, null);
        assert.deepEqual((await eventsAfter(since)).map((e) => [e.event, e.owner]), Array(5).fill(["connection.update", "op"]));
      });

      test("bad input changes nothing: extra that is not a JSON object 422, unknown field 422 naming it, duplicate 409, missing 404, another id in the body 400; a user cannot change connections", async () => {
        const before = await snapshot();
        for (const extra of ["not json", "[1, 2]", "42"]) {
          const bad = await json("POST", "/api/v2/connections", CONNECTIONS, 422, asOp({ connection_id: "bad_extra", conn_type: "http", extra }));
          assert.deepEqual(bad.detail[0].loc, ["body", "extra"]);
          assert.match(bad.detail[0].msg, /JSON object/);
        }
        await json("PATCH", "/api/v2/connections/warehouse", CONNECTION, 422, asOp({ connection_id: "warehouse", conn_type: "postgres", extra: "{" }));
        const unknown = await json("POST", "/api/v2/connections", CONNECTIONS, 422, asOp({ connection_id: "x", conn_type: "http", passwd: "leaked?" }));
        assert.deepEqual(unknown.detail[0].loc, ["body", "passwd"]);
        assert.ok(!JSON.stringify(unknown).includes("leaked?"));
        const badId = await json("POST", "/api/v2/connections", CONNECTIONS, 422, asOp({ connection_id: "has space", conn_type: "http" }));
        assert.deepEqual(badId.detail[0].loc, ["body", "connection_id"]);
        await json("POST", "/api/v2/connections", CONNECTIONS, 422, asOp({ connection_id: "no_type" }));
        await json("POST", "/api/v2/connections", CONNECTIONS, 422, asOp({ connection_id: "teamed", conn_type: "http", team_name: "blue" }));

        const duplicate = await json("POST", "/api/v2/connections", CONNECTIONS, 409, asOp({ connection_id: "warehouse", conn_type: "http", password: "overwrite" }));
        assert.match(duplicate.detail, /warehouse/);
        await json("GET", "/api/v2/connections/no_such_conn", CONNECTION, 404);
        const missing = await json("PATCH", "/api/v2/connections/no_such_conn", CONNECTION, 404, asOp({ connection_id: "no_such_conn", conn_type: "http" }));
        assert.match(missing.detail, /no_such_conn/);
        await json("DELETE", "/api/v2/connections/no_such_conn", CONNECTION, 404, asOp());
        const other = await json("PATCH", "/api/v2/connections/warehouse", CONNECTION, 400, asOp({ connection_id: "reader_conn", conn_type: "http" }));
        assert.match(other.detail, /reader_conn/);

        for (const as of ["viewer", "user"] as const) {
          await json("POST", "/api/v2/connections", CONNECTIONS, 403, { as, body: { connection_id: "sneaky", conn_type: "http" } });
          await json("PATCH", "/api/v2/connections/warehouse", CONNECTION, 403, { as, body: { connection_id: "warehouse", conn_type: "http" } });
          await json("DELETE", "/api/v2/connections/warehouse", CONNECTION, 403, { as });
        }
        assert.deepEqual(await snapshot(), before);
      });

      test("the list pages and orders by connection id; delete: 204, then 404, and logged", async () => {
        const ids = (body: Json) => body.connections.map((c: Json) => c.connection_id);
        const all = await json("GET", "/api/v2/connections", CONNECTIONS);
        assert.deepEqual([ids(all), all.total_entries], [["reader_conn", "warehouse"], 2]);
        assert.ok(all.connections.every((c: Json) => c.password === null));
        const paged = await json("GET", "/api/v2/connections?limit=1&offset=0&order_by=-connection_id", CONNECTIONS);
        assert.deepEqual([ids(paged), paged.total_entries], [["warehouse"], 2]);

        const since = await lastEventId();
        await expect("DELETE", "/api/v2/connections/reader_conn", CONNECTION, 204, asOp());
        await json("GET", "/api/v2/connections/reader_conn", CONNECTION, 404);
        assert.deepEqual((await eventsAfter(since)).map((e) => [e.event, e.owner, e.extra]), [["connection.delete", "op", "reader_conn"]]);
      });
    });

    describe("import errors", () => {
      test("the files that failed to import, in the spec's shape: the list pages, orders and filters by filename; one by id", async () => {
        const files = (body: Json) => body.import_errors.map((e: Json) => e.filename);
        const all = await json("GET", "/api/v2/importErrors?order_by=filename", IMPORT_ERRORS);
        assert.deepEqual([files(all), all.total_entries], [["broken_a.ts", "broken_b.ts"], 2]);
        assert.match(all.import_errors[0].stack_trace, /broken on purpose A/);
        assert.equal(all.import_errors[0].bundle_name, "aloft");
        assert.deepEqual(files(await json("GET", "/api/v2/importErrors?order_by=-filename", IMPORT_ERRORS)), ["broken_b.ts", "broken_a.ts"]);
        const paged = await json("GET", "/api/v2/importErrors?order_by=filename&limit=1&offset=1", IMPORT_ERRORS);
        assert.deepEqual([files(paged), paged.total_entries], [["broken_b.ts"], 2]);
        const found = await json("GET", "/api/v2/importErrors?filename_pattern=BROKEN_B", IMPORT_ERRORS);
        assert.deepEqual([files(found), found.total_entries], [["broken_b.ts"], 1]);

        const first = all.import_errors[0];
        assert.deepEqual(await json("GET", `/api/v2/importErrors/${first.import_error_id}`, IMPORT_ERROR), first);
        const missing = await json("GET", "/api/v2/importErrors/999999", IMPORT_ERROR, 404);
        assert.match(missing.detail, /999999/);
        await json("GET", "/api/v2/importErrors/abc", IMPORT_ERROR, 422);
        await json("GET", "/api/v2/importErrors", IMPORT_ERRORS, 401, { as: null });
      });
    });

    describe("XComs", () => {
      let runId = "";
      const url = (taskId: string, rest = "") => `/api/v2/dags/xcoms/dagRuns/${encodeURIComponent(runId)}/taskInstances/${taskId}/xcomEntries${rest}`;

      before(async () => {
        runId = await harness.trigger("xcoms");
        const { state, tasks } = await harness.waitForRun("xcoms", runId);
        assert.equal(state, "success", JSON.stringify(tasks));
      });

      test("list: a task's XComs in the spec's shape, by map index and key; xcom_key, map_index, xcom_key_pattern and paging", async () => {
        const keys = (body: Json) => body.xcom_entries.map((x: Json) => x.key);
        const all = await json("GET", url("produce"), XCOMS);
        assert.deepEqual([keys(all), all.total_entries], [["return_value", "row_count"], 2]);
        const run = (await harness.run("xcoms", runId))!;
        for (const entry of all.xcom_entries) {
          assert.deepEqual([entry.dag_id, entry.run_id, entry.task_id, entry.map_index], ["xcoms", runId, "produce", -1]);
          assert.equal(entry.logical_date, new Date(run.logical_date).toISOString());
          assert.ok(!("value" in entry));
        }
        assert.deepEqual(keys(await json("GET", url("produce", "?xcom_key=row_count"), XCOMS)), ["row_count"]);
        assert.deepEqual(keys(await json("GET", url("produce", "?xcom_key_pattern=ROW"), XCOMS)), ["row_count"]);
        const paged = await json("GET", url("produce", "?limit=1&offset=1"), XCOMS);
        assert.deepEqual([keys(paged), paged.total_entries], [["row_count"], 2]);

        const mapped = await json("GET", url("square"), XCOMS);
        assert.deepEqual(mapped.xcom_entries.map((x: Json) => [x.map_index, x.key]), [[0, "return_value"], [1, "return_value"], [2, "return_value"]]);
        assert.deepEqual((await json("GET", url("square", "?map_index=1"), XCOMS)).xcom_entries.map((x: Json) => x.map_index), [1]);
        assert.deepEqual((await json("GET", url("square", "?map_index_filter=2"), XCOMS)).xcom_entries.map((x: Json) => x.map_index), [2]);
        assert.deepEqual(await json("GET", url("silent"), XCOMS), { xcom_entries: [], total_entries: 0 });
      });

      test("one entry: the value a task returned, as JSON; a mapped instance's by map_index; stringify gives JSON text", async () => {
        const returned = await json("GET", url("produce", "/return_value"), XCOM);
        assert.deepEqual(returned.value, { files: ["a.csv", "b.csv"], ok: true });
        assert.deepEqual([returned.key, returned.task_id, returned.map_index], ["return_value", "produce", -1]);
        assert.deepEqual((await json("GET", url("produce", "/return_value?deserialize=true"), XCOM)).value, returned.value);
        assert.equal((await json("GET", url("produce", "/row_count"), XCOM)).value, 1200);
        assert.equal((await json("GET", url("square", "/return_value?map_index=2"), XCOM)).value, 9);
        assert.equal((await json("GET", url("produce", "/return_value?stringify=true"), XCOM)).value, '{"files":["a.csv","b.csv"],"ok":true}');
      });

      test("missing: an unknown key, task or run is a 404 naming it; a mapped task needs its map_index; `~` and filters over several tasks are a 400", async () => {
        const key = await json("GET", url("produce", "/nope"), XCOM, 404);
        assert.match(key.detail, /'nope'.*'return_value', 'row_count'/);
        assert.match((await json("GET", url("no_task"), XCOMS, 404)).detail, /no_task/);
        assert.match((await json("GET", "/api/v2/dags/xcoms/dagRuns/no_run/taskInstances/produce/xcomEntries", XCOMS, 404)).detail, /no_run/);
        assert.match((await json("GET", url("square", "/return_value"), XCOM, 404)).detail, /map index/);
        assert.match((await json("GET", url("square", "/return_value?map_index=7"), XCOM, 404)).detail, /map index 7/);
        assert.match((await json("GET", "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", XCOMS, 400)).detail, /'~'/);
        assert.match((await json("GET", url("produce", "?run_id_pattern=manual"), XCOMS, 400)).detail, /run_id_pattern/);
        await json("GET", url("produce", "?order_by=key"), XCOMS, 422);
        await json("GET", url("produce"), XCOMS, 401, { as: null });
      });
    });
  });
}
