/**
 * `/api/v2/dags` on every dialect, as an Airflow client sees it: listing with paging, ordering and
 * filters, one DAG and its details, and pausing, each body checked against Airflow's spec.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { ApiUnderTest } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

// The start date is far ahead so that no run is created while the tests look at the DAGs.
const ETL_DAILY = (description: string) => `import { dag, task } from "aloft";
dag(
  "etl_daily",
  { schedule: "@daily", start: "2099-01-01", timezone: "Europe/Berlin", catchup: true, tags: ["etl", "daily"], description: "${description}", params: { who: "world", n: 5 } },
  () => { task("t", () => 1); },
);
`;

const DAGS = {
  "etl_daily.ts": ETL_DAILY("loads the warehouse"),
  // "data_lake" has an underscore, which is a LIKE wildcard: the tag filter must still match it exactly.
  "etl_hourly.ts": `import { dag, task } from "aloft";
dag("etl_hourly", { schedule: null, tags: ["etl", "data_lake"] }, () => { task("t", () => 1); });
`,
  "ml_train.ts": `import { dag, task } from "aloft";
dag("ml_train", { schedule: null, tags: ["ml"] }, () => { task("t", () => 1); });
`,
  "report_daily.ts": `import { dag, task } from "aloft";
dag("report_daily", { schedule: null, tags: ["daily"] }, () => { task("t", () => 1); });
`,
  "untagged.ts": `import { dag, task } from "aloft";
dag("untagged", { schedule: null }, () => { task("t", () => 1); });
`,
};

// In dag_id order. The ids are lower case and differ early, so every dialect's collation sorts them alike.
const ALL = ["etl_daily", "etl_hourly", "ml_train", "report_daily", "untagged"];

interface DagBody {
  dag_id: string;
  is_paused: boolean;
  is_stale: boolean;
  description: string | null;
  tags: Array<{ name: string }>;
}
interface DagList {
  dags: DagBody[];
  total_entries: number;
}

for (const factory of testDialects()) {
  describe(`API /api/v2/dags on ${factory.dialect}`, () => {
    const harness = new Harness(factory, DAGS);
    const api = new ApiUnderTest(harness);
    before(async () => {
      await harness.start();
      await api.start();
      // One DAG paused from the start, so that the paused filter has something on each side.
      const paused = await api.call("PATCH", "/api/v2/dags/ml_train", { as: "op", body: { is_paused: true } });
      assert.equal(paused.statusCode, 200, paused.body);
    });
    after(async () => {
      await api.stop();
      await harness.stop();
    });

    /** GET /api/v2/dags with `query`, checked for a 200 in the spec's shape. */
    async function list(query = ""): Promise<DagList> {
      const response = await api.call("GET", `/api/v2/dags${query ? `?${query}` : ""}`);
      assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
      const body = response.json<DagList>();
      assertMatchesSpec("GET", "/api/v2/dags", 200, body);
      return body;
    }
    const ids = (body: DagList) => body.dags.map((d) => d.dag_id);

    describe("list", () => {
      test("every DAG, in dag_id order by default, with total_entries counting them", async () => {
        const body = await list();
        assert.deepEqual(ids(body), ALL);
        assert.equal(body.total_entries, ALL.length);
        const etl = body.dags.find((d) => d.dag_id === "etl_daily")!;
        assert.deepEqual(etl.tags.map((t) => t.name), ["etl", "daily"]);
        assert.equal(etl.description, "loads the warehouse");
      });

      test("limit and offset page the list: no DAG twice, none missed, total_entries is the count before paging", async () => {
        const seen: string[] = [];
        for (let offset = 0; offset < ALL.length; offset += 2) {
          const page = await list(`limit=2&offset=${offset}`);
          assert.equal(page.total_entries, ALL.length);
          assert.ok(page.dags.length <= 2);
          seen.push(...ids(page));
        }
        assert.deepEqual(seen, ALL);
        const pastTheEnd = await list(`limit=2&offset=${ALL.length}`);
        assert.deepEqual(pastTheEnd.dags, []);
        assert.equal(pastTheEnd.total_entries, ALL.length);
      });

      test("order_by=-dag_id is descending, and paging follows that order", async () => {
        assert.deepEqual(ids(await list("order_by=-dag_id")), [...ALL].reverse());
        assert.deepEqual(ids(await list("order_by=-dag_id&limit=2&offset=1")), [...ALL].reverse().slice(1, 3));
      });

      test("an order_by field that does not exist is a 400 problem naming the fields allowed", async () => {
        const response = await api.call("GET", "/api/v2/dags?order_by=owner");
        assert.equal(response.statusCode, 400);
        assert.match(String(response.headers["content-type"]), /application\/problem\+json/);
        const { detail } = response.json<{ detail: string }>();
        assert.match(detail, /'owner'/);
        assert.match(detail, /dag_id/);
        assert.match(detail, /dag_display_name/);
      });

      test("a limit above 100 is a 422 located at the query's limit", async () => {
        const response = await api.call("GET", "/api/v2/dags?limit=101");
        assert.equal(response.statusCode, 422);
        const body = response.json<{ detail: Array<{ loc: unknown[] }> }>();
        assertMatchesSpec("GET", "/api/v2/dags", 422, body);
        // 100 itself is allowed.
        assert.equal((await list("limit=100")).dags.length, ALL.length);
        assert.deepEqual(body.detail[0]!.loc, ["query", "limit"]);
      });
    });

    describe("filters", () => {
      test("tags: repeated tags match any of them by default, all of them with tags_match_mode=all", async () => {
        const any = await list("tags=etl&tags=daily");
        assert.deepEqual(ids(any), ["etl_daily", "etl_hourly", "report_daily"]);
        assert.equal(any.total_entries, 3);
        assert.deepEqual(ids(await list("tags=etl&tags=daily&tags_match_mode=any")), ["etl_daily", "etl_hourly", "report_daily"]);
        const all = await list("tags=etl&tags=daily&tags_match_mode=all");
        assert.deepEqual(ids(all), ["etl_daily"]);
        assert.equal(all.total_entries, 1);
        // A single tags= is a list of one.
        assert.deepEqual(ids(await list("tags=ml")), ["ml_train"]);
      });

      test("tags match whole tag names: not a part of one, and an underscore in a tag is not a wildcard", async () => {
        assert.deepEqual(ids(await list("tags=dail")), []);
        assert.deepEqual(ids(await list("tags=et")), []);
        assert.deepEqual(ids(await list("tags=data_lake")), ["etl_hourly"]);
        assert.deepEqual(ids(await list("tags=dataxlake")), []);
      });

      test("dag_id_pattern: % is a wildcard and case does not matter", async () => {
        assert.deepEqual(ids(await list("dag_id_pattern=etl%25")), ["etl_daily", "etl_hourly"]);
        assert.deepEqual(ids(await list("dag_id_pattern=%25DAILY")), ["etl_daily", "report_daily"]);
        const one = await list("dag_id_pattern=ML_TRAIN");
        assert.deepEqual(ids(one), ["ml_train"]);
        assert.equal(one.total_entries, 1);
        assert.deepEqual(ids(await list("dag_id_pattern=nothing%25")), []);
        // The same search by display name (which is the dag_id in Aloft), combined with a tag.
        assert.deepEqual(ids(await list("dag_display_name_pattern=%25daily&tags=etl")), ["etl_daily"]);
      });

      test("dag_id_pattern: `a | b` finds the DAGs matching either, as the spec documents", async () => {
        assert.deepEqual(ids(await list(`dag_id_pattern=${encodeURIComponent("etl_daily | ml%")}`)), ["etl_daily", "ml_train"]);
      });

      test("paused=true and paused=false split the DAGs by is_paused", async () => {
        const paused = await list("paused=true");
        assert.deepEqual(ids(paused), ["ml_train"]);
        assert.equal(paused.total_entries, 1);
        assert.ok(paused.dags.every((d) => d.is_paused));
        const active = await list("paused=false");
        assert.deepEqual(ids(active), ALL.filter((id) => id !== "ml_train"));
        assert.ok(active.dags.every((d) => !d.is_paused));
      });

      test("a DAG whose file is gone is stale: hidden by default, listed with exclude_stale=false", async () => {
        harness.writeDags({ "retired.ts": `import { dag, task } from "aloft";\ndag("retired", { schedule: null }, () => { task("t", () => 1); });\n` });
        await harness.reparse();
        assert.ok(ids(await list()).includes("retired"));
        fs.rmSync(path.join(harness.dagsFolder, "retired.ts"));
        await harness.reparse();
        const fresh = await list();
        assert.deepEqual(ids(fresh), ALL);
        assert.equal(fresh.total_entries, ALL.length);
        const withStale = await list("exclude_stale=false");
        assert.deepEqual(ids(withStale), [...ALL, "retired"].sort());
        assert.equal(withStale.total_entries, ALL.length + 1);
        assert.equal(withStale.dags.find((d) => d.dag_id === "retired")!.is_stale, true);
        assert.ok(withStale.dags.filter((d) => d.dag_id !== "retired").every((d) => !d.is_stale));
      });
    });

    describe("get and details", () => {
      test("GET one DAG: its fields in the spec's shape", async () => {
        const response = await api.call("GET", "/api/v2/dags/etl_hourly");
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json<DagBody>();
        assertMatchesSpec("GET", "/api/v2/dags/{dag_id}", 200, body);
        assert.equal(body.dag_id, "etl_hourly");
        assert.equal(body.is_paused, false);
        assert.equal(body.is_stale, false);
        assert.deepEqual(body.tags.map((t) => t.name), ["etl", "data_lake"]);
      });

      test("an unknown dag_id is a 404 problem whose detail names the DAG", async () => {
        for (const url of ["/api/v2/dags/no_such_dag", "/api/v2/dags/no_such_dag/details"]) {
          const response = await api.call("GET", url);
          assert.equal(response.statusCode, 404, url);
          assert.match(String(response.headers["content-type"]), /application\/problem\+json/);
          const body = response.json<{ detail: string }>();
          assertMatchesSpec("GET", url.endsWith("/details") ? "/api/v2/dags/{dag_id}/details" : "/api/v2/dags/{dag_id}", 404, body);
          assert.match(body.detail, /no_such_dag/);
        }
      });

      test("details: the spec's DAGDetailsResponse, for a DAG that sets schedule, timezone and params and for one that sets none", async () => {
        for (const dagId of ["etl_daily", "untagged"]) {
          const response = await api.call("GET", `/api/v2/dags/${dagId}/details`);
          assert.equal(response.statusCode, 200, response.body);
          assertMatchesSpec("GET", "/api/v2/dags/{dag_id}/details", 200, response.json());
        }
      });

      test("details: catchup, timezone and the latest version are those of the DAG as written, defaults where it sets none", async () => {
        const body = (await api.call("GET", "/api/v2/dags/etl_daily/details")).json();
        assert.equal(body.dag_id, "etl_daily");
        assert.equal(body.catchup, true);
        assert.equal(body.timezone, "Europe/Berlin");
        assert.equal(body.description, "loads the warehouse");
        assert.equal(body.timetable_summary, "@daily");
        // Midnight of 2099-01-01 in Berlin (UTC+1 in winter).
        assert.equal(body.start_date, "2098-12-31T23:00:00.000Z");
        assert.equal(body.latest_dag_version.version_number, 1);
        assert.equal(body.latest_dag_version.dag_id, "etl_daily");
        const plain = (await api.call("GET", "/api/v2/dags/untagged/details")).json();
        assert.equal(plain.catchup, false);
        assert.equal(plain.timezone, "UTC");
        assert.equal(plain.latest_dag_version.version_number, 1);
      });

      test("details: params as Airflow shows them, each with its value", async () => {
        const body = (await api.call("GET", "/api/v2/dags/etl_daily/details")).json<{ params: Record<string, { value?: unknown }> }>();
        // Airflow's DAGDetailsResponse dumps each Param: { __class, value, description, schema }.
        assert.deepEqual(Object.keys(body.params).sort(), ["n", "who"]);
        assert.equal(body.params.who?.value, "world");
        assert.equal(body.params.n?.value, 5);
      });

      test("details: a changed DAG file shows as a new latest_dag_version after it is deployed", async () => {
        harness.writeDags({ "etl_daily.ts": ETL_DAILY("loads the warehouse, now twice as fast") });
        await harness.reparse();
        const body = (await api.call("GET", "/api/v2/dags/etl_daily/details")).json();
        assert.equal(body.latest_dag_version.version_number, 2);
        assert.equal(body.description, "loads the warehouse, now twice as fast");
        // The DAGs that did not change keep their version.
        assert.equal((await api.call("GET", "/api/v2/dags/untagged/details")).json().latest_dag_version.version_number, 1);
      });
    });

    describe("patch", () => {
      const isPaused = async (dagId: string) => (await api.call("GET", `/api/v2/dags/${dagId}`)).json<DagBody>().is_paused;

      test("pausing shows in a later GET, in the paused=true list, and in the event log with who did it", async () => {
        const response = await api.call("PATCH", "/api/v2/dags/report_daily", { as: "user", body: { is_paused: true } });
        assert.equal(response.statusCode, 200, response.body);
        assertMatchesSpec("PATCH", "/api/v2/dags/{dag_id}", 200, response.json());
        assert.equal(response.json<DagBody>().is_paused, true);
        assert.equal(await isPaused("report_daily"), true);
        assert.deepEqual(ids(await list("paused=true")), ["ml_train", "report_daily"]);
        const events = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("dag_id", "=", "report_daily").execute();
        assert.deepEqual(events, [{ event: "paused", owner: "user" }]);

        // Unpausing, by another user, is logged as well and puts the DAG back.
        const unpause = await api.call("PATCH", "/api/v2/dags/report_daily?update_mask=is_paused", { as: "admin", body: { is_paused: false } });
        assert.equal(unpause.statusCode, 200, unpause.body);
        assert.equal(await isPaused("report_daily"), false);
        assert.deepEqual(ids(await list("paused=true")), ["ml_train"]);
        const history = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("dag_id", "=", "report_daily").orderBy("id").execute();
        assert.deepEqual(history, [
          { event: "paused", owner: "user" },
          { event: "unpaused", owner: "admin" },
        ]);
      });

      test("an update_mask naming a field that cannot be changed is a 422, and changes nothing", async () => {
        const response = await api.call("PATCH", "/api/v2/dags/untagged?update_mask=owners", { as: "user", body: { is_paused: true } });
        assert.equal(response.statusCode, 422, response.body);
        const body = response.json<{ detail: Array<{ loc: unknown[] }> }>();
        assertMatchesSpec("PATCH", "/api/v2/dags/{dag_id}", 422, body);
        assert.equal(await isPaused("untagged"), false);
        assert.deepEqual(body.detail[0]!.loc.slice(0, 2), ["query", "update_mask"]);
      });

      test("pausing a DAG that does not exist is a 404 naming it", async () => {
        const response = await api.call("PATCH", "/api/v2/dags/no_such_dag", { as: "user", body: { is_paused: true } });
        assert.equal(response.statusCode, 404);
        assertMatchesSpec("PATCH", "/api/v2/dags/{dag_id}", 404, response.json());
        assert.match(response.json<{ detail: string }>().detail, /no_such_dag/);
      });
    });
  });
}
