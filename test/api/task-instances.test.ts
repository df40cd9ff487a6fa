/**
 * The task instance endpoints on every dialect, against runs the engine really ran: list, get, tries,
 * logs (followed while a try runs), marking and notes (PATCH), clearing; roles and bad input. Every
 * response is checked against Airflow's spec for its operation and status.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { tempDir, waitFor } from "../helpers/aloft.js";
import { ApiUnderTest, type CallOptions } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

/** The DAGs; the follow DAG's try runs until the test creates `releaseFile`. */
const dags = (releaseFile: string) => ({
  "tis.ts": `import { bash, dag, task } from "aloft";
dag("tis", { schedule: null }, () => {
  const items = task("items", () => ["a", "b"]);
  task("per_item", (ctx) => ctx.item).expand(items);
  bash("echo", 'echo "hello from {{ run_id }}"; echo "second line"');
  task("flaky", (ctx) => {
    console.log("flaky try " + ctx.tryNumber);
    if (ctx.tryNumber === 1) throw new Error("first try fails");
    return ctx.tryNumber;
  }, { retries: 1, retryDelay: "1s" });
});
dag("markable", { schedule: null }, () => {
  task("a", () => { throw new Error("a fails"); }).then(task("b", () => "b ran"));
});
dag("again", { schedule: null }, () => {
  bash("say", "echo saying it again").then(task("after_say", () => 1));
});
dag("follow", { schedule: null }, () => {
  bash("wait", 'echo waiting; while [ ! -f ${releaseFile} ]; do sleep 0.05; done; echo released');
});
`,
});

const LIST = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances";
const ONE = `${LIST}/{task_id}`;
const MAPPED = `${ONE}/{map_index}`;
const TRIES = `${ONE}/tries`;
const TRY = `${ONE}/tries/{task_try_number}`;
const MAPPED_TRIES = `${MAPPED}/tries`;
const LOG = `${ONE}/logs/{try_number}`;
const CLEAR = "/api/v2/dags/{dag_id}/clearTaskInstances";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

for (const factory of testDialects()) {
  describe(`API task instances on ${factory.dialect}`, () => {
    const releaseFile = path.join(tempDir("tis-release"), "release");
    const harness = new Harness(factory, dags(releaseFile));
    const api = new ApiUnderTest(harness);
    let runId = "";

    const tis = (dagId: string, run: string) => `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(run)}/taskInstances`;

    /** Calls the API, asserts the status, checks the body against the spec's operation, returns the response. */
    async function expect(method: "GET" | "POST" | "PATCH", url: string, specPath: string, status: number, options: CallOptions = {}): Promise<LightMyRequestResponse> {
      const response = await api.call(method, url, options);
      assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
      assertMatchesSpec(method, specPath, status, response.json());
      return response;
    }
    const json = async (method: "GET" | "POST" | "PATCH", url: string, specPath: string, status = 200, options: CallOptions = {}) =>
      (await expect(method, url, specPath, status, options)).json<Json>();

    /** What the tests must leave alone: every task instance's state and try, the runs' states, the event log's length. */
    async function snapshot() {
      const tasks = await harness.store.db.selectFrom("task_instance").select(["id", "state", "try_number", "note"]).orderBy("id").execute();
      const runs = await harness.store.db.selectFrom("dag_run").select(["id", "state"]).orderBy("id").execute();
      const events = await harness.store.db.selectFrom("event_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      return { tasks, runs, events: Number(events.n) };
    }

    before(async () => {
      await harness.start();
      await api.start();
      runId = await harness.trigger("tis");
      const { state, tasks } = await harness.waitForRun("tis", runId);
      assert.equal(state, "success", JSON.stringify(tasks));
    });
    after(async () => {
      await api.stop();
      await harness.stop();
      fs.rmSync(path.dirname(releaseFile), { recursive: true, force: true });
    });

    test("list: a run's task instances in Airflow's shape, with filters, paging and total_entries", async () => {
      const all = await json("GET", tis("tis", runId), LIST);
      assert.equal(all.total_entries, 5);
      const names = all.task_instances.map((t: Json) => `${t.task_id}${t.map_index >= 0 ? `[${t.map_index}]` : ""}`).sort();
      assert.deepEqual(names, ["echo", "flaky", "items", "per_item[0]", "per_item[1]"]);
      assert.ok(all.task_instances.every((t: Json) => t.state === "success" && t.dag_run_id === runId && UUID.test(t.id)));

      const count = async (query: string) => (await json("GET", `${tis("tis", runId)}?${query}`, LIST)).total_entries as number;
      assert.equal(await count("task_id=flaky"), 1);
      assert.equal(await count("state=success"), 5);
      assert.equal(await count("state=failed&state=up_for_retry"), 0);
      assert.equal(await count("state=failed&state=success"), 5);
      assert.equal(await count("map_index=1"), 1);
      assert.equal(await count("map_index=0&map_index=1"), 2);
      assert.equal(await count("pool=default_pool"), 5);
      assert.equal(await count("pool=other_pool"), 0);
      assert.equal(await count("queue=default"), 5);
      assert.equal(await count("operator=bash"), 1);
      assert.equal(await count("try_number=2"), 1);
      assert.equal(await count("task_display_name_pattern=item"), 3);
      assert.equal(await count(`start_date_gte=${encodeURIComponent("2000-01-01T00:00:00Z")}&start_date_lte=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), 5);
      assert.equal(await count(`start_date_gte=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), 0);
      assert.equal(await count(`end_date_lte=${encodeURIComponent("2000-01-01T00:00:00Z")}`), 0);

      const first = await json("GET", `${tis("tis", runId)}?limit=2&offset=0&order_by=-map_index`, LIST);
      const second = await json("GET", `${tis("tis", runId)}?limit=2&offset=2&order_by=-map_index`, LIST);
      const third = await json("GET", `${tis("tis", runId)}?limit=2&offset=4&order_by=-map_index`, LIST);
      assert.deepEqual([first.total_entries, second.total_entries, third.total_entries], [5, 5, 5]);
      assert.deepEqual([first, second, third].map((p) => p.task_instances.length), [2, 2, 1]);
      assert.deepEqual(first.task_instances.map((t: Json) => t.map_index), [1, 0]);
      const ids = [first, second, third].flatMap((p) => p.task_instances.map((t: Json) => t.id));
      assert.equal(new Set(ids).size, 5, "pages overlap");

      // `~` is every DAG and every run.
      const otherRun = await harness.trigger("again");
      await harness.waitForRun("again", otherRun);
      const everywhere = await json("GET", tis("~", "~"), LIST);
      assert.equal(everywhere.total_entries, 7);
      assert.equal((await json("GET", `${tis("~", "~")}?dag_id_pattern=again`, LIST)).total_entries, 2);
      assert.equal((await json("GET", tis("again", "~"), LIST)).total_entries, 2);
      assert.equal((await json("GET", tis("~", runId), LIST)).total_entries, 5);

      const badOrder = await json("GET", `${tis("tis", runId)}?order_by=color`, LIST, 400);
      assert.match(badOrder.detail, /cannot order by 'color'/);
      assert.match((await json("GET", tis("tis", "no-such-run"), LIST, 404)).detail, /no run 'no-such-run'/);
      assert.match((await json("GET", tis("nope", "~"), LIST, 404)).detail, /DAG 'nope'/);
    });

    test("get: an unmapped instance by its task id, a mapped one by its map index; fields from Aloft's rows", async () => {
      const echo = await json("GET", `${tis("tis", runId)}/echo`, ONE);
      assert.equal(echo.task_id, "echo");
      assert.equal(echo.map_index, -1);
      assert.equal(echo.state, "success");
      assert.equal(echo.try_number, 1);
      assert.equal(echo.max_tries, 0);
      assert.equal(echo.operator, "bash");
      assert.equal(echo.pool, "default_pool");
      assert.equal(echo.pool_slots, 1);
      assert.equal(echo.queue, "default");
      assert.equal(echo.executor, "LocalExecutor");
      assert.equal(echo.executor_config, "{}");
      assert.equal(echo.note, null);
      assert.match(echo.id, UUID);
      assert.equal(echo.rendered_fields.command, `echo "hello from ${runId}"; echo "second line"`);
      assert.equal(echo.dag_version.version_number, 1);
      assert.equal(echo.dag_version.dag_id, "tis");
      assert.ok(echo.duration > 0);
      assert.ok(Date.parse(echo.end_date) >= Date.parse(echo.start_date));

      const flaky = await json("GET", `${tis("tis", runId)}/flaky`, ONE);
      assert.equal(flaky.try_number, 2);
      assert.equal(flaky.max_tries, 1);
      assert.equal(flaky.operator, "function");
      assert.deepEqual(flaky.rendered_fields, {});

      const mapped = await json("GET", `${tis("tis", runId)}/per_item/1`, MAPPED);
      assert.equal(mapped.map_index, 1);
      assert.equal(mapped.state, "success");
      const unmappedByIndex = await json("GET", `${tis("tis", runId)}/echo/-1`, MAPPED);
      assert.equal(unmappedByIndex.id, echo.id);

      assert.match((await json("GET", `${tis("tis", runId)}/per_item`, ONE, 404)).detail, /is mapped: name the instance by its map index.*0, 1/);
      assert.match((await json("GET", `${tis("tis", runId)}/per_item/7`, MAPPED, 404)).detail, /no map index 7: its map indexes are 0, 1/);
      assert.match((await json("GET", `${tis("tis", runId)}/echo/0`, MAPPED, 404)).detail, /not mapped/);
    });

    test("tries: the history of the task that failed once shows both tries with their states", async () => {
      const history = await json("GET", `${tis("tis", runId)}/flaky/tries`, TRIES);
      assert.equal(history.total_entries, 2);
      assert.deepEqual(
        history.task_instances.map((t: Json) => [t.try_number, t.state]),
        [
          [1, "failed"],
          [2, "success"],
        ],
      );
      assert.ok(history.task_instances.every((t: Json) => t.task_id === "flaky" && t.max_tries === 1 && t.executor === "LocalExecutor"));
      const second = await json("GET", `${tis("tis", runId)}/flaky/tries/2`, TRY);
      assert.equal(second.state, "success");
      assert.ok(Date.parse(second.start_date) >= Date.parse(history.task_instances[0].end_date));

      const mappedTries = await json("GET", `${tis("tis", runId)}/per_item/0/tries`, MAPPED_TRIES);
      assert.deepEqual(mappedTries.task_instances.map((t: Json) => [t.map_index, t.try_number, t.state]), [[0, 1, "success"]]);
      const byQuery = await json("GET", `${tis("tis", runId)}/per_item/tries?map_index=1`, TRIES);
      assert.deepEqual(byQuery.task_instances.map((t: Json) => t.map_index), [1]);
    });

    test("logs: each try's log holds what the task printed, as JSON, NDJSON and plain text", async () => {
      const logUrl = (task: string, n: number) => `${tis("tis", runId)}/${task}/logs/${n}`;
      const echo = await json("GET", logUrl("echo", 1), LOG);
      assert.equal(echo.continuation_token, null, "a finished try's log has no more to read");
      const events = echo.content.map((m: Json) => m.event);
      assert.ok(events.includes(`hello from ${runId}`), events.join("\n"));
      assert.ok(events.includes("second line"));
      const ended = echo.content.find((m: Json) => m.event === "try ended: success");
      assert.equal(ended.level, "info");
      assert.ok(!Number.isNaN(Date.parse(ended.timestamp)));

      const firstTry = (await json("GET", logUrl("flaky", 1), LOG)).content.map((m: Json) => m.event).join("\n");
      assert.match(firstTry, /flaky try 1/);
      assert.match(firstTry, /first try fails/);
      assert.doesNotMatch(firstTry, /flaky try 2/);
      const secondTry = (await json("GET", logUrl("flaky", 2), LOG)).content.map((m: Json) => m.event).join("\n");
      assert.match(secondTry, /flaky try 2/);

      const text = await api.call("GET", logUrl("echo", 1), { headers: { accept: "text/plain" } });
      assert.equal(text.statusCode, 200);
      assert.match(String(text.headers["content-type"]), /^text\/plain/);
      assert.ok(text.body.includes(`hello from ${runId}\nsecond line\n`), text.body);
      assert.equal(text.headers["airflow-continuation-token"], undefined);

      const ndjson = await api.call("GET", logUrl("echo", 1), { headers: { accept: "application/x-ndjson" } });
      assert.equal(ndjson.statusCode, 200);
      assert.match(String(ndjson.headers["content-type"]), /^application\/x-ndjson/);
      const lines = ndjson.body.trimEnd().split("\n").map((l) => JSON.parse(l) as Json);
      assert.deepEqual(lines, echo.content);

      const mapped = await json("GET", `${tis("tis", runId)}/per_item/logs/1?map_index=1`, LOG);
      assert.ok(mapped.content.some((m: Json) => m.event === "try ended: success"));

      assert.match((await json("GET", logUrl("flaky", 3), LOG, 404)).detail, /has no try 3: its tries are 1, 2/);
      assert.equal((await api.call("GET", logUrl("echo", 1), { headers: { accept: "application/xml" } })).statusCode, 406);
    });

    test("logs: a running try's log is followed with the continuation token until the try ends", async () => {
      const followRun = await harness.trigger("follow");
      const url = `${tis("follow", followRun)}/wait/logs/1`;
      // The try has started and flushed its first line (a 404 until it starts).
      const first = await waitFor("the running try's first line", async () => {
        const response = await api.call("GET", url);
        if (response.statusCode !== 200) return undefined;
        const body = response.json<Json>();
        return body.content.some((m: Json) => m.event === "waiting") ? body : undefined;
      });
      assertMatchesSpec("GET", LOG, 200, first);
      assert.equal(typeof first.continuation_token, "string", "a running try's log goes on");
      assert.ok(!first.content.some((m: Json) => m.event === "released"));

      fs.writeFileSync(releaseFile, "");
      let token: string = first.continuation_token;
      const later: string[] = [];
      await waitFor("the try to end and its log to have no more", async () => {
        const body = await json("GET", `${url}?token=${encodeURIComponent(token)}`, LOG);
        later.push(...body.content.map((m: Json) => m.event));
        if (body.continuation_token === null) return true;
        token = body.continuation_token;
        return undefined;
      });
      assert.ok(later.includes("released"), later.join("\n"));
      assert.ok(later.includes("try ended: success"));
      assert.ok(!later.includes("waiting"), "text read before the token was sent again");

      // full_content reads from the start whatever the token says.
      const whole = await json("GET", `${url}?full_content=true&token=${encodeURIComponent(token)}`, LOG);
      const events = whole.content.map((m: Json) => m.event);
      assert.ok(events.includes("waiting") && events.includes("released"));

      const forged = await api.call("GET", `${url}?token=not-a-token`);
      assert.equal(forged.statusCode, 400);
      // The spec documents no 400 for get_log (Airflow answers one for a bad token too): the body is the same HTTPExceptionResponse as elsewhere.
      assertMatchesSpec("GET", LIST, 400, forged.json());
      assert.match(forged.json().detail, /continuation token is not valid/);
      const otherTry = await api.call("GET", `${tis("tis", runId)}/echo/logs/1?token=${encodeURIComponent(token)}`);
      assert.equal(otherTry.statusCode, 400);
      assert.match(otherTry.json().detail, /another try's log/);
    });

    test("roles: a viewer cannot PATCH or clear (403) and nothing changes; PATCH by a user marks, shows in GET and in the event log", async () => {
      const markRun = await harness.trigger("markable");
      assert.deepEqual((await harness.waitForRun("markable", markRun)).tasks, { a: "failed", b: "upstream_failed" });
      const url = `${tis("markable", markRun)}/a`;
      const before = await snapshot();
      const denied = await json("PATCH", url, ONE, 403, { as: "viewer", body: { new_state: "success" } });
      assert.match(denied.detail, /role 'viewer'.*needs role 'user'/);
      await json("POST", "/api/v2/dags/markable/clearTaskInstances", CLEAR, 403, { as: "viewer", body: { dag_run_id: markRun, dry_run: false } });
      assert.deepEqual(await snapshot(), before, "a refused request changed something");

      const patched = await json("PATCH", url, ONE, 200, { as: "user", body: { new_state: "success", note: "fixed by hand" } });
      assert.equal(patched.total_entries, 1);
      assert.equal(patched.task_instances[0].state, "success");
      assert.equal(patched.task_instances[0].note, "fixed by hand");
      const got = await json("GET", url, ONE);
      assert.equal(got.state, "success");
      assert.equal(got.note, "fixed by hand");
      const events = await harness.store.db
        .selectFrom("event_log")
        .select(["event", "owner", "task_id"])
        .where("dag_id", "=", "markable")
        .where("run_id", "=", markRun)
        .orderBy("id")
        .execute();
      assert.deepEqual(events.find((e) => e.event === "mark_success"), { event: "mark_success", owner: "user", task_id: "a" });
      assert.deepEqual(events.find((e) => e.event === "note"), { event: "note", owner: "user", task_id: "a" });
      // As Airflow: the failed tasks after it run again, so the run can finish.
      assert.equal((await harness.waitForRun("markable", markRun)).state, "success");
      assert.equal((await json("GET", `${tis("markable", markRun)}/b`, ONE)).state, "success");

      // update_mask: only the fields it names change.
      const masked = await json("PATCH", `${url}?update_mask=note`, ONE, 200, { as: "user", body: { new_state: "failed", note: "only the note" } });
      assert.equal(masked.task_instances[0].state, "success");
      assert.equal(masked.task_instances[0].note, "only the note");
      const again = await json("PATCH", url, ONE, 409, { as: "user", body: { new_state: "success" } });
      assert.match(again.detail, /already success/);

      // What markTaskInstances cannot do is refused, naming it, and changes nothing.
      const unchanged = await snapshot();
      assert.match((await json("PATCH", url, ONE, 400, { as: "user", body: { new_state: "failed", include_past: true } })).detail, /include_past/);
      assert.match((await json("PATCH", url, ONE, 400, { as: "user", body: { new_state: "skipped" } })).detail, /'skipped' is not supported/);
      assert.match((await json("PATCH", `${tis("tis", runId)}/per_item?map_index=1`, ONE, 400, { as: "user", body: { note: "x" } })).detail, /map_index/);
      assert.deepEqual(await snapshot(), unchanged);
    });

    test("clearTaskInstances: a dry run (the default) changes nothing; a real clear runs the task again, in a new try", async () => {
      const run = await harness.trigger("again");
      assert.equal((await harness.waitForRun("again", run)).state, "success");
      const url = "/api/v2/dags/again/clearTaskInstances";
      const before = await snapshot();
      const preview = await json("POST", url, CLEAR, 200, { as: "user", body: { dag_run_id: run, task_ids: ["say"], only_failed: false } });
      assert.deepEqual(preview.task_instances.map((t: Json) => [t.task_id, t.state, t.try_number]), [["say", "success", 1]]);
      assert.equal(preview.total_entries, 1);
      assert.deepEqual(await snapshot(), before, "the dry run changed something");
      // only_failed is true by default, as in Airflow: nothing failed here.
      assert.equal((await json("POST", url, CLEAR, 200, { as: "user", body: { dag_run_id: run, dry_run: false } })).total_entries, 0);
      assert.deepEqual(await snapshot(), before);

      const cleared = await json("POST", url, CLEAR, 200, { as: "user", body: { dag_run_id: run, task_ids: ["say"], only_failed: false, include_downstream: true, dry_run: false } });
      assert.deepEqual(cleared.task_instances.map((t: Json) => t.task_id).sort(), ["after_say", "say"]);
      const { state } = await harness.waitForRun("again", run);
      assert.equal(state, "success");
      const say = await json("GET", `${tis("again", run)}/say`, ONE);
      assert.equal(say.try_number, 2);
      const history = await json("GET", `${tis("again", run)}/say/tries`, TRIES);
      assert.deepEqual(history.task_instances.map((t: Json) => [t.try_number, t.state]), [
        [1, "success"],
        [2, "success"],
      ]);
      const log = await api.call("GET", `${tis("again", run)}/say/logs/2`, { headers: { accept: "text/plain" } });
      assert.match(log.body, /saying it again/);
      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("run_id", "=", run).where("event", "=", "clear").execute();
      assert.deepEqual(events, [
        { event: "clear", owner: "user" },
        { event: "clear", owner: "user" },
      ]);
    });

    test("clearTaskInstances: what clearTaskInstances cannot do is a 400 naming the flag, and changes nothing", async () => {
      const before = await snapshot();
      const url = "/api/v2/dags/tis/clearTaskInstances";
      const refused = async (body: Json, pattern: RegExp) => {
        const response = await api.call("POST", url, { as: "user", body: { dry_run: false, ...body } });
        assert.equal(response.statusCode, 400, response.body);
        // The spec documents no 400 for this operation; the body is the HTTPExceptionResponse every 400 has.
        assertMatchesSpec("GET", LIST, 400, response.json());
        assert.match(response.json().detail, pattern);
      };
      await refused({}, /dag_run_id is required/);
      await refused({ dag_run_id: runId, include_future: true }, /include_future/);
      await refused({ dag_run_id: runId, only_running: true }, /only_running/);
      await refused({ dag_run_id: runId, reset_dag_runs: false }, /reset_dag_runs/);
      await refused({ dag_run_id: runId, run_on_latest_version: true }, /run_on_latest_version/);
      await refused({ dag_run_id: runId, prevent_running_task: true }, /prevent_running_task/);
      await refused({ dag_run_id: runId, task_ids: [["per_item", 1]] }, /\[task_id, map_index\] pairs/);
      await refused({ dag_run_id: runId, start_date: "2026-01-01T00:00:00Z" }, /start_date/);
      assert.deepEqual(await snapshot(), before);
    });

    test("bad input: an unknown field is a 422 naming it, a try or task that does not exist a 404; nothing changes", async () => {
      const before = await snapshot();
      const unknownField = await json("PATCH", `${tis("tis", runId)}/echo`, ONE, 422, { as: "user", body: { new_state: "failed", owner: "x" } });
      assert.deepEqual(unknownField.detail[0].loc, ["body", "owner"]);
      assert.match(unknownField.detail[0].msg, /unknown field 'owner'/);
      const unknownClearField = await json("POST", "/api/v2/dags/tis/clearTaskInstances", CLEAR, 422, { as: "user", body: { dag_run_id: runId, dry_run: false, color: "red" } });
      assert.deepEqual(unknownClearField.detail[0].loc, ["body", "color"]);
      const unknownParam = await json("GET", `${tis("tis", runId)}?colour=red`, LIST, 422);
      assert.deepEqual(unknownParam.detail[0].loc, ["query", "colour"]);
      const badState = await json("PATCH", `${tis("tis", runId)}/echo`, ONE, 422, { as: "user", body: { new_state: "running" } });
      assert.deepEqual(badState.detail[0].loc, ["body", "new_state"]);

      assert.match((await json("GET", `${tis("tis", runId)}/flaky/tries/9`, TRY, 404)).detail, /has no try 9: its tries are 1, 2/);
      assert.match((await json("GET", `${tis("tis", runId)}/echo/logs/9`, LOG, 404)).detail, /has no try 9/);
      assert.match((await json("GET", `${tis("tis", runId)}/nope`, ONE, 404)).detail, /no task 'nope'/);
      assert.match((await json("PATCH", `${tis("tis", runId)}/nope`, ONE, 404, { as: "user", body: { new_state: "failed" } })).detail, /no task 'nope'/);
      const clearUnknown = await json("POST", "/api/v2/dags/tis/clearTaskInstances", CLEAR, 404, { as: "user", body: { dag_run_id: runId, task_ids: ["nope"], dry_run: false } });
      assert.match(clearUnknown.detail, /no task 'nope'/);
      await json("POST", "/api/v2/dags/tis/clearTaskInstances", CLEAR, 404, { as: "user", body: { dag_run_id: "no-such-run", dry_run: false } });
      await json("GET", `${tis("tis", runId)}/echo/tries/9`, TRY, 404);
      assert.deepEqual(await snapshot(), before);
    });
  });
}
