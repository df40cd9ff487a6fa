/** /api/v2/dags/{dag_id}/dagRuns: list, trigger, get, patch, clear and delete on a running engine, on every dialect. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { waitFor } from "../helpers/aloft.js";
import { useApi } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";

const RUNS = "/api/v2/dags/{dag_id}/dagRuns";
const RUN = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}";
const CLEAR = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/clear";

// Two tasks in a row; the second fails when the run's conf says so.
const DAGS = {
  "two_step.ts": `import { dag, task } from "aloft";
dag("two_step", { schedule: null, params: { fail: false } }, () => {
  const first = task("first", () => 1);
  const second = task("second", (ctx) => {
    if (ctx.params.fail) throw new Error("asked to fail");
    return 2;
  });
  first.then(second);
});
`,
  "listed.ts": `import { dag, task } from "aloft";
dag("listed", { schedule: null }, () => { task("only", () => "x"); });
`,
  "checked.ts": `import { dag, param, task } from "aloft";
dag("checked", { schedule: null, params: { n: param(1, { type: "integer", minimum: 1 }) } }, () => { task("t", () => 1); });
`,
};

const runUrl = (dagId: string, runId: string) => `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`;

for (const factory of testDialects()) {
  describe(`API DAG runs on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    /** Triggers through the API as a user; returns the response body, checked against the spec. */
    async function trigger(dagId: string, body: Record<string, unknown> = {}) {
      const response = await api.call("POST", `/api/v2/dags/${dagId}/dagRuns`, { as: "user", body });
      assert.equal(response.statusCode, 200, response.body);
      assertMatchesSpec("POST", RUNS, 200, response.json());
      return response.json<{ dag_run_id: string; state: string }>();
    }

    /** GETs the run until it is success or failed; every answer is checked against the spec. */
    async function finished(dagId: string, runId: string) {
      return waitFor(
        `run ${runId} of ${dagId} to finish`,
        async () => {
          const response = await api.call("GET", runUrl(dagId, runId));
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json<Record<string, unknown>>();
          assertMatchesSpec("GET", RUN, 200, body);
          return body.state === "success" || body.state === "failed" ? body : undefined;
        },
        60_000,
        100,
      );
    }

    const runCount = async () => Number((await harness.store.db.selectFrom("dag_run").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);

    test("trigger: 200 with a queued run in Airflow's shape; GET follows it to success, with its version and who triggered it", async () => {
      const body = {
        dag_run_id: "api_run_1",
        logical_date: "2025-03-01T12:00:00Z",
        data_interval_start: "2025-02-28T12:00:00Z",
        data_interval_end: "2025-03-01T12:00:00Z",
        run_after: "2025-03-01T12:00:05Z",
        conf: { fail: false, label: "first" },
        note: "from the API",
      };
      const created = await trigger("two_step", body);
      assert.equal(created.dag_run_id, "api_run_1");
      assert.equal(created.state, "queued");
      const run = await finished("two_step", "api_run_1");
      assert.equal(run.state, "success");
      assert.equal(run.logical_date, "2025-03-01T12:00:00.000Z");
      assert.equal(run.data_interval_start, "2025-02-28T12:00:00.000Z");
      assert.equal(run.data_interval_end, "2025-03-01T12:00:00.000Z");
      assert.equal(run.run_after, "2025-03-01T12:00:05.000Z");
      assert.equal(run.run_type, "manual");
      assert.equal(run.triggered_by, "rest_api");
      assert.equal(run.triggering_user_name, "user");
      assert.deepEqual(run.conf, { fail: false, label: "first" });
      assert.equal(run.note, "from the API");
      assert.ok(typeof run.duration === "number" && run.duration >= 0);
      const versions = run.dag_versions as Array<{ dag_id: string; version_number: number }>;
      assert.equal(versions.length, 1);
      assert.equal(versions[0]!.dag_id, "two_step");
      assert.equal(versions[0]!.version_number, 1);
      assert.deepEqual(await harness.taskStates("two_step", "api_run_1"), { first: "success", second: "success" });
      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("run_id", "=", "api_run_1").orderBy("id").execute();
      assert.deepEqual(events, [
        { event: "trigger", owner: "user" },
        { event: "note", owner: "user" },
      ]);
      // A run the CLI's way of triggering made (harness.trigger logs nothing) says nothing of who triggered it.
      const bare = await harness.trigger("listed", { runId: "no_event" });
      const plain = await api.call("GET", runUrl("listed", bare));
      assertMatchesSpec("GET", RUN, 200, plain.json());
      assert.equal(plain.json().triggered_by, null);
    });

    test("trigger: a viewer is refused (403), a paused DAG can be triggered, a duplicate run id is 409, an unknown DAG 404, a conf failing the params 400", async () => {
      const before = await runCount();
      const denied = await api.call("POST", "/api/v2/dags/two_step/dagRuns", { as: "viewer", body: { dag_run_id: "viewer_run" } });
      assert.equal(denied.statusCode, 403);
      assertMatchesSpec("POST", RUNS, 403, denied.json());
      const unknown = await api.call("POST", "/api/v2/dags/no_such_dag/dagRuns", { as: "user", body: {} });
      assert.equal(unknown.statusCode, 404);
      assertMatchesSpec("POST", RUNS, 404, unknown.json());
      const badConf = await api.call("POST", "/api/v2/dags/checked/dagRuns", { as: "user", body: { conf: { n: 0 } } });
      assert.equal(badConf.statusCode, 400);
      assertMatchesSpec("POST", RUNS, 400, badConf.json());
      assert.match(badConf.json().detail, /param 'n'/);
      assert.equal(await runCount(), before, "a refused trigger created a run");

      const paused = await api.call("PATCH", "/api/v2/dags/checked", { as: "user", body: { is_paused: true } });
      assert.equal(paused.statusCode, 200, paused.body);
      const waiting = await trigger("checked", { dag_run_id: "while_paused", conf: { n: 2 } });
      assert.equal(waiting.state, "queued");
      const duplicate = await api.call("POST", "/api/v2/dags/checked/dagRuns", { as: "user", body: { dag_run_id: "while_paused" } });
      assert.equal(duplicate.statusCode, 409);
      assertMatchesSpec("POST", RUNS, 409, duplicate.json());
      assert.match(duplicate.json().detail, /while_paused/);
      assert.equal(await runCount(), before + 1);
      await api.call("PATCH", "/api/v2/dags/checked", { as: "user", body: { is_paused: false } });
      assert.equal((await finished("checked", "while_paused")).state, "success");
    });

    test("list: filters by state, type and times; pages with total_entries and no overlap; orders descending; ~ lists every DAG", async () => {
      const days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"];
      const startedAfter = new Date().toISOString();
      for (const day of days) await trigger("listed", { dag_run_id: `day_${day}`, logical_date: `${day}T00:00:00Z` });
      for (const day of days) await finished("listed", `day_${day}`);
      const failed = await api.call("PATCH", runUrl("listed", "day_2024-01-03"), { as: "user", body: { state: "failed" } });
      assert.equal(failed.statusCode, 200, failed.body);

      const list = async (query: string) => {
        const response = await api.call("GET", `/api/v2/dags/listed/dagRuns?${query}`);
        assert.equal(response.statusCode, 200, response.body);
        assertMatchesSpec("GET", RUNS, 200, response.json());
        return response.json<{ dag_runs: Array<{ dag_run_id: string; dag_id: string; state: string }>; total_entries: number }>();
      };
      const ours = (body: Awaited<ReturnType<typeof list>>) => body.dag_runs.map((r) => r.dag_run_id).filter((id) => id.startsWith("day_"));
      const window = "logical_date_gte=2024-01-01T00:00:00Z&logical_date_lte=2024-01-05T00:00:00Z";

      assert.deepEqual(ours(await list(`${window}&state=failed`)), ["day_2024-01-03"]);
      assert.equal((await list(`${window}&state=success`)).total_entries, 4);
      assert.equal((await list(`${window}&state=success&state=failed`)).total_entries, 5);
      assert.equal((await list(`${window}&run_type=manual`)).total_entries, 5);
      assert.equal((await list(`${window}&run_type=scheduled&run_type=backfill`)).total_entries, 0);
      assert.deepEqual(ours(await list("logical_date_gte=2024-01-02T00:00:00Z&logical_date_lt=2024-01-04T00:00:00Z&order_by=logical_date")), ["day_2024-01-02", "day_2024-01-03"]);
      assert.equal((await list(`${window}&start_date_gte=${startedAfter}`)).total_entries, 5);
      assert.equal((await list(`${window}&start_date_lte=${startedAfter}`)).total_entries, 0);
      assert.equal((await list(`${window}&end_date_lte=${new Date().toISOString()}&run_after_gte=${startedAfter}`)).total_entries, 5);

      const pages = [];
      for (const offset of [0, 2, 4]) {
        const body = await list(`${window}&order_by=-logical_date&limit=2&offset=${offset}`);
        assert.equal(body.total_entries, 5);
        pages.push(ours(body));
      }
      assert.deepEqual(pages, [
        ["day_2024-01-05", "day_2024-01-04"],
        ["day_2024-01-03", "day_2024-01-02"],
        ["day_2024-01-01"],
      ]);
      const byIdDesc = ours(await list(`${window}&order_by=-id`));
      assert.deepEqual(byIdDesc, [...days].reverse().map((d) => `day_${d}`));

      const everyDag = await api.call("GET", "/api/v2/dags/~/dagRuns?limit=100");
      assert.equal(everyDag.statusCode, 200);
      assertMatchesSpec("GET", RUNS, 200, everyDag.json());
      const dagIds = new Set(everyDag.json<{ dag_runs: Array<{ dag_id: string }> }>().dag_runs.map((r) => r.dag_id));
      assert.ok(dagIds.has("listed") && dagIds.has("two_step"), [...dagIds].join(", "));
      assert.equal(everyDag.json().total_entries, await runCount());
      const onlyListed = await list("limit=100");
      assert.ok(onlyListed.dag_runs.every((r) => r.dag_id === "listed"));

      const missing = await api.call("GET", "/api/v2/dags/no_such_dag/dagRuns");
      assert.equal(missing.statusCode, 404);
      assertMatchesSpec("GET", RUNS, 404, missing.json());
    });

    test("PATCH: state failed and a note show in GET and the event log; update_mask limits the change; queued is refused; a viewer cannot", async () => {
      const { dag_run_id: runId } = await trigger("two_step", { dag_run_id: "to_patch" });
      await finished("two_step", runId);
      const patched = await api.call("PATCH", runUrl("two_step", runId), { as: "user", body: { state: "failed", note: "bad data upstream" } });
      assert.equal(patched.statusCode, 200, patched.body);
      assertMatchesSpec("PATCH", RUN, 200, patched.json());
      const got = await api.call("GET", runUrl("two_step", runId));
      assertMatchesSpec("GET", RUN, 200, got.json());
      assert.equal(got.json().state, "failed");
      assert.equal(got.json().note, "bad data upstream");
      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("run_id", "=", runId).orderBy("id").execute();
      assert.deepEqual(events.slice(-2), [
        { event: "mark_run_failed", owner: "user" },
        { event: "note", owner: "user" },
      ]);

      const masked = await api.call("PATCH", `${runUrl("two_step", runId)}?update_mask=note`, { as: "user", body: { state: "success", note: "only the note" } });
      assert.equal(masked.statusCode, 200, masked.body);
      assertMatchesSpec("PATCH", RUN, 200, masked.json());
      assert.equal(masked.json().state, "failed");
      assert.equal(masked.json().note, "only the note");

      const queued = await api.call("PATCH", runUrl("two_step", runId), { as: "user", body: { state: "queued", note: "not this" } });
      assert.equal(queued.statusCode, 400);
      assertMatchesSpec("PATCH", RUN, 400, queued.json());
      const denied = await api.call("PATCH", runUrl("two_step", runId), { as: "viewer", body: { state: "success" } });
      assert.equal(denied.statusCode, 403);
      assertMatchesSpec("PATCH", RUN, 403, denied.json());
      const after = (await harness.run("two_step", runId))!;
      assert.equal(after.state, "failed");
      assert.equal(after.note, "only the note");
      const missing = await api.call("PATCH", runUrl("two_step", "no_such_run"), { as: "user", body: { note: "x" } });
      assert.equal(missing.statusCode, 404);
      assertMatchesSpec("PATCH", RUN, 404, missing.json());
    });

    test("clear: a dry run lists what would be cleared and changes nothing; clearing re-runs the tasks", async () => {
      const { dag_run_id: runId } = await trigger("two_step", { dag_run_id: "to_clear", conf: { fail: true } });
      assert.equal((await finished("two_step", runId)).state, "failed");
      const tries = async () =>
        Object.fromEntries(
          (await harness.store.db.selectFrom("task_instance").select(["task_id", "try_number", "state"]).where("run_id", "=", runId).execute()).map((t) => [t.task_id, `${t.state}/${t.try_number}`]),
        );
      const before = await tries();
      assert.deepEqual(before, { first: "success/1", second: "failed/1" });

      const onlyFailed = await api.call("POST", `${runUrl("two_step", runId)}/clear`, { as: "user", body: { only_failed: true } });
      assert.equal(onlyFailed.statusCode, 200, onlyFailed.body);
      assertMatchesSpec("POST", CLEAR, 200, onlyFailed.json());
      assert.deepEqual(onlyFailed.json().task_instances.map((t: { task_id: string }) => t.task_id), ["second"]);
      assert.equal(onlyFailed.json().total_entries, 1);
      const all = await api.call("POST", `${runUrl("two_step", runId)}/clear`, { as: "user", body: { dry_run: true } });
      assertMatchesSpec("POST", CLEAR, 200, all.json());
      assert.deepEqual(all.json().task_instances.map((t: { task_id: string; state: string }) => `${t.task_id}:${t.state}`), ["first:success", "second:failed"]);
      assert.deepEqual(await tries(), before, "a dry run changed the task instances");
      assert.equal((await harness.run("two_step", runId))!.state, "failed");

      const denied = await api.call("POST", `${runUrl("two_step", runId)}/clear`, { as: "viewer", body: { dry_run: false } });
      assert.equal(denied.statusCode, 403);
      assertMatchesSpec("POST", CLEAR, 403, denied.json());
      const cleared = await api.call("POST", `${runUrl("two_step", runId)}/clear`, { as: "user", body: { dry_run: false } });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assertMatchesSpec("POST", CLEAR, 200, cleared.json());
      assert.equal(cleared.json().dag_run_id, runId);
      assert.equal(cleared.json().state, "queued");
      assert.equal((await finished("two_step", runId)).state, "failed");
      assert.deepEqual(await tries(), { first: "success/2", second: "failed/2" });
      const missing = await api.call("POST", `${runUrl("two_step", "no_such_run")}/clear`, { as: "user", body: {} });
      assert.equal(missing.statusCode, 404);
      assertMatchesSpec("POST", CLEAR, 404, missing.json());
    });

    test("DELETE: the run and everything under it go, nothing of another run; a later GET is 404; a viewer cannot", async () => {
      const doomed = (await trigger("two_step", { dag_run_id: "doomed" })).dag_run_id;
      const kept = (await trigger("two_step", { dag_run_id: "kept" })).dag_run_id;
      await finished("two_step", doomed);
      await finished("two_step", kept);
      const db = harness.store.db;
      /** Rows under a run in each table that hangs off it. */
      const rowsOf = async (runId: string) => {
        const ids = (await db.selectFrom("task_instance").select("id").where("run_id", "=", runId).where("dag_id", "=", "two_step").execute()).map((t) => t.id);
        const count = async (table: "task_try" | "task_log" | "task_log_size" | "xcom") =>
          ids.length === 0 ? 0 : Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).where("ti_id", "in", ids).executeTakeFirstOrThrow()).n);
        return { task_instance: ids.length, task_try: await count("task_try"), task_log: await count("task_log"), task_log_size: await count("task_log_size"), xcom: await count("xcom") };
      };
      const doomedRows = await rowsOf(doomed);
      const keptRows = await rowsOf(kept);
      assert.ok(Object.values(doomedRows).every((n) => n > 0), JSON.stringify(doomedRows));

      const denied = await api.call("DELETE", runUrl("two_step", doomed), { as: "viewer" });
      assert.equal(denied.statusCode, 403);
      assertMatchesSpec("DELETE", RUN, 403, denied.json());
      assert.ok(await harness.run("two_step", doomed));

      const deleted = await api.call("DELETE", runUrl("two_step", doomed), { as: "user" });
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.equal(deleted.body, "");
      const gone = await api.call("GET", runUrl("two_step", doomed));
      assert.equal(gone.statusCode, 404);
      assert.match(String(gone.headers["content-type"]), /application\/problem\+json/);
      assertMatchesSpec("GET", RUN, 404, gone.json());
      assert.equal(await harness.run("two_step", doomed), undefined);
      // The task instances are gone, so count what is left by the old ids too.
      assert.deepEqual(await rowsOf(doomed), { task_instance: 0, task_try: 0, task_log: 0, task_log_size: 0, xcom: 0 });
      for (const table of ["task_try", "task_log", "xcom"] as const) {
        const left = await db.selectFrom(table).select("ti_id").where("dag_id", "=", "two_step").where("run_id", "=", doomed).execute();
        assert.equal(left.length, 0, `${table} keeps rows of the deleted run`);
      }
      assert.deepEqual(await rowsOf(kept), keptRows);
      const events = await db.selectFrom("event_log").select(["event", "owner"]).where("run_id", "=", doomed).orderBy("id").execute();
      assert.deepEqual(events.at(-1), { event: "delete_run", owner: "user" });

      const again = await api.call("DELETE", runUrl("two_step", doomed), { as: "user" });
      assert.equal(again.statusCode, 404);
      assertMatchesSpec("DELETE", RUN, 404, again.json());
    });

    test("bad input is a 4xx problem naming what is wrong, and changes nothing", async () => {
      const before = await runCount();
      const post = (body: unknown) => api.call("POST", "/api/v2/dags/two_step/dagRuns", { as: "user", body });
      const unknownField = await post({ dag_run_id: "x1", color: "red" });
      assert.equal(unknownField.statusCode, 422);
      assertMatchesSpec("POST", RUNS, 422, unknownField.json());
      assert.deepEqual(unknownField.json().detail[0].loc, ["body", "color"]);
      assert.match(unknownField.json().detail[0].msg, /color/);
      const wrongType = await post({ dag_run_id: "x2", conf: "not an object" });
      assert.equal(wrongType.statusCode, 422);
      assertMatchesSpec("POST", RUNS, 422, wrongType.json());
      assert.deepEqual(wrongType.json().detail[0].loc, ["body", "conf"]);
      const badDate = await post({ dag_run_id: "x3", logical_date: "yesterday" });
      assert.equal(badDate.statusCode, 422);
      assertMatchesSpec("POST", RUNS, 422, badDate.json());
      assert.deepEqual(badDate.json().detail[0].loc, ["body", "logical_date"]);
      const naive = await post({ dag_run_id: "x4", logical_date: "2025-01-01T00:00:00" });
      assert.equal(naive.statusCode, 422, "a time without a zone is ambiguous");
      const halfInterval = await post({ dag_run_id: "x5", data_interval_start: "2025-01-01T00:00:00Z" });
      assert.equal(halfInterval.statusCode, 400);
      assertMatchesSpec("POST", RUNS, 400, halfInterval.json());
      assert.match(halfInterval.json().detail, /data_interval_end/);
      const later = await post({ dag_run_id: "x6", run_after: new Date(Date.now() + 3_600_000).toISOString() });
      assert.equal(later.statusCode, 400, "the scheduler would not wait for a run_after in the future");
      assertMatchesSpec("POST", RUNS, 400, later.json());
      const partitioned = await post({ dag_run_id: "x7", partition_key: "eu" });
      assert.equal(partitioned.statusCode, 400);
      assert.match(partitioned.json().detail, /partition_key/);
      const missingDag = await api.call("POST", "/api/v2/dags/..%2Fetc/dagRuns", { as: "user", body: {} });
      assert.equal(missingDag.statusCode, 404);
      assertMatchesSpec("POST", RUNS, 404, missingDag.json());

      const badState = await api.call("GET", "/api/v2/dags/two_step/dagRuns?state=finished");
      assert.equal(badState.statusCode, 422);
      assertMatchesSpec("GET", RUNS, 422, badState.json());
      assert.deepEqual(badState.json().detail[0].loc, ["query", "state", 0]);
      const badFilterDate = await api.call("GET", "/api/v2/dags/two_step/dagRuns?start_date_gte=last-week");
      assert.equal(badFilterDate.statusCode, 422);
      assertMatchesSpec("GET", RUNS, 422, badFilterDate.json());
      const unknownFilter = await api.call("GET", "/api/v2/dags/two_step/dagRuns?conf_contains=x");
      assert.equal(unknownFilter.statusCode, 422);
      assert.deepEqual(unknownFilter.json().detail[0].loc, ["query", "conf_contains"]);

      const patchUnknown = await api.call("PATCH", runUrl("two_step", "api_run_1"), { as: "user", body: { state: "failed", owner: "me" } });
      assert.equal(patchUnknown.statusCode, 422);
      assertMatchesSpec("PATCH", RUN, 422, patchUnknown.json());
      assert.deepEqual(patchUnknown.json().detail[0].loc, ["body", "owner"]);
      const patchBadState = await api.call("PATCH", runUrl("two_step", "api_run_1"), { as: "user", body: { state: "done" } });
      assert.equal(patchBadState.statusCode, 422);
      const clearUnknown = await api.call("POST", `${runUrl("two_step", "api_run_1")}/clear`, { as: "user", body: { dry_run: false, task_ids: ["first"] } });
      assert.equal(clearUnknown.statusCode, 422);
      assertMatchesSpec("POST", CLEAR, 422, clearUnknown.json());
      assert.deepEqual(clearUnknown.json().detail[0].loc, ["body", "task_ids"]);
      const latestVersion = await api.call("POST", `${runUrl("two_step", "api_run_1")}/clear`, { as: "user", body: { dry_run: false, run_on_latest_version: true } });
      assert.equal(latestVersion.statusCode, 422, "a cleared run runs on its own version: true is not honoured");
      assert.deepEqual(latestVersion.json().detail[0].loc, ["body", "run_on_latest_version"]);

      assert.equal(await runCount(), before, "a refused request created a run");
      const untouched = (await harness.run("two_step", "api_run_1"))!;
      assert.equal(untouched.state, "success");
      assert.equal(untouched.note, "from the API");
      assert.deepEqual(await harness.taskStates("two_step", "api_run_1"), { first: "success", second: "success" });
    });
  });
}
