/**
 * A DAG's tasks (`/api/v2/dags/{dag_id}/tasks`), its source (`/api/v2/dagSources/{dag_id}`) and
 * deleting it (`DELETE /api/v2/dags/{dag_id}`), on a running engine, on every dialect, each body
 * checked against Airflow's spec.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { useApi } from "../helpers/api.js";
import { waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";

const TASKS = "/api/v2/dags/{dag_id}/tasks";
const TASK = "/api/v2/dags/{dag_id}/tasks/{task_id}";
const SOURCE = "/api/v2/dagSources/{dag_id}";
const DAG = "/api/v2/dags/{dag_id}";

const PIPELINE = (comment: string) => `// ${comment}
import { bash, dag, task } from "aloft";

dag("pipeline", { schedule: null, start: "2024-01-01", params: { region: "eu" } }, () => {
  const extract = task("extract", () => [1, 2], { retries: 2, retryDelay: "90s", executionTimeout: "1h", queue: "etl" });
  const each = task("each", (ctx) => ctx.item, { retryExponentialBackoff: true }).expand(extract);
  const load = bash("load", "echo {{ ds }}", { triggerRule: "all_done", priorityWeight: 5, pool: "default_pool", dependsOnPast: true });
  each.then(load);
});
`;

const DAGS = {
  "pipeline.ts": PIPELINE("first version"),
  "doomed.ts": `import { dag, task } from "aloft";
dag("doomed", { schedule: null }, () => { task("a", () => "x").then(task("b", () => 1)); });
`,
  // A try that runs long enough to try deleting its DAG meanwhile.
  "sleepy.ts": `import { bash, dag } from "aloft";
dag("sleepy", { schedule: null }, () => { bash("nap", "sleep 4"); });
`,
};

interface Task {
  task_id: string;
  downstream_task_ids: string[];
  trigger_rule: string;
  retries: number;
  priority_weight: number;
  retry_delay: { days: number; seconds: number; microseconds: number };
  execution_timeout: { days: number; seconds: number; microseconds: number } | null;
  is_mapped: boolean;
  queue: string;
  depends_on_past: boolean;
  retry_exponential_backoff: number;
  operator_name: string;
  template_fields: string[];
  params: Record<string, { value: unknown }>;
  start_date: string | null;
}

for (const factory of testDialects()) {
  describe(`API tasks, DAG sources and deleting a DAG on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    async function get<T>(url: string, specPath: string): Promise<T> {
      const response = await api.call("GET", url);
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      assertMatchesSpec("GET", specPath, 200, response.json());
      return response.json<T>();
    }

    function assertProblem(response: { statusCode: number; body: string; headers: Record<string, unknown>; json(): unknown }, status: number, method: string, specPath: string) {
      assert.equal(response.statusCode, status, response.body);
      assert.match(response.headers["content-type"] as string, /application\/problem\+json/);
      assertMatchesSpec(method, specPath, status, response.json());
    }

    const rows = async (table: "dag" | "dag_run" | "task_instance" | "task_try" | "task_log" | "xcom" | "dag_version", dagId: string) =>
      Number((await harness.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).where("dag_id", "=", dagId).executeTakeFirstOrThrow()).n);

    test("tasks: every task of the DAG's current version with its settings and downstream tasks, ordered by task_id", async () => {
      const list = await get<{ tasks: Task[]; total_entries: number }>("/api/v2/dags/pipeline/tasks", TASKS);
      assert.equal(list.total_entries, 3);
      assert.deepEqual(list.tasks.map((t) => t.task_id), ["each", "extract", "load"]);
      const [each, extract, load] = list.tasks as [Task, Task, Task];
      assert.deepEqual(extract.downstream_task_ids, ["each"]);
      assert.deepEqual(each.downstream_task_ids, ["load"]);
      assert.deepEqual(load.downstream_task_ids, []);
      assert.equal(extract.retries, 2);
      assert.deepEqual(extract.retry_delay, { __type: "TimeDelta", days: 0, seconds: 90, microseconds: 0 });
      assert.deepEqual(extract.execution_timeout, { __type: "TimeDelta", days: 0, seconds: 3600, microseconds: 0 });
      assert.equal(load.execution_timeout, null);
      assert.equal(extract.queue, "etl");
      assert.equal(each.is_mapped, true);
      assert.equal(extract.is_mapped, false);
      assert.equal(each.retry_exponential_backoff, 2);
      assert.equal(extract.retry_exponential_backoff, 0);
      assert.equal(load.trigger_rule, "all_done");
      assert.equal(load.depends_on_past, true);
      assert.equal(load.operator_name, "bash");
      assert.deepEqual(load.template_fields, ["command", "env"]);
      assert.equal(extract.params.region?.value, "eu");
      assert.equal(extract.start_date, "2024-01-01T00:00:00.000Z");

      const byWeight = await get<{ tasks: Task[] }>("/api/v2/dags/pipeline/tasks?order_by=-priority_weight", TASKS);
      // A task's own weight (the effective one, summed by the weight rule, is the task instance's); ties by task_id, descending too.
      assert.deepEqual(
        byWeight.tasks.map((t) => [t.task_id, t.priority_weight]),
        [
          ["load", 5],
          ["extract", 1],
          ["each", 1],
        ],
      );

      const one = await get<Task>("/api/v2/dags/pipeline/tasks/load", TASK);
      assert.deepEqual(one, load);

      assertProblem(await api.call("GET", "/api/v2/dags/pipeline/tasks?order_by=owner_links"), 400, "GET", TASKS);
      assertProblem(await api.call("GET", "/api/v2/dags/pipeline/tasks/nope"), 404, "GET", TASK);
      assertProblem(await api.call("GET", "/api/v2/dags/nope/tasks"), 404, "GET", TASKS);
      assertProblem(await api.call("GET", "/api/v2/dags/nope/tasks/load"), 404, "GET", TASK);
      assertProblem(await api.call("GET", "/api/v2/dags/pipeline/tasks?limit=5"), 422, "GET", TASKS);
    });

    test("DAG source: the DAG file as written, of the latest version or the one asked for; as text with Accept: text/plain", async () => {
      const first = await get<{ content: string; dag_id: string; version_number: number; dag_display_name: string }>("/api/v2/dagSources/pipeline", SOURCE);
      assert.deepEqual(first, { content: PIPELINE("first version"), dag_id: "pipeline", version_number: 1, dag_display_name: "pipeline" });

      harness.writeDags({ "pipeline.ts": PIPELINE("second version") });
      assert.deepEqual((await harness.reparse("second")).changed, ["pipeline"]);
      const latest = await get<{ content: string; version_number: number }>("/api/v2/dagSources/pipeline", SOURCE);
      assert.equal(latest.version_number, 2);
      assert.equal(latest.content, PIPELINE("second version"));
      const older = await get<{ content: string; version_number: number }>("/api/v2/dagSources/pipeline?version_number=1", SOURCE);
      assert.equal(older.content, PIPELINE("first version"));

      const text = await api.call("GET", "/api/v2/dagSources/pipeline?version_number=1", { headers: { accept: "text/plain" } });
      assert.equal(text.statusCode, 200);
      assert.match(text.headers["content-type"] as string, /^text\/plain/);
      assert.equal(text.body, PIPELINE("first version"));

      assertProblem(await api.call("GET", "/api/v2/dagSources/pipeline", { headers: { accept: "application/xml" } }), 406, "GET", SOURCE);
      assertProblem(await api.call("GET", "/api/v2/dagSources/pipeline?version_number=9"), 404, "GET", SOURCE);
      assertProblem(await api.call("GET", "/api/v2/dagSources/nope"), 404, "GET", SOURCE);
      assertProblem(await api.call("GET", "/api/v2/dagSources/pipeline?version_number=abc"), 422, "GET", SOURCE);
    });

    test("delete: the DAG and its runs, task instances, tries, logs, XComs and versions go in one go; the event log keeps who did it; a deploy brings it back", async () => {
      const runId = await harness.trigger("doomed");
      assert.equal((await harness.waitForRun("doomed", runId)).state, "success");
      assert.ok((await rows("task_try", "doomed")) > 0 && (await rows("xcom", "doomed")) > 0 && (await rows("task_log", "doomed")) > 0);

      // Deleting a DAG changes the deployment: op and admin only.
      assert.equal((await api.call("DELETE", "/api/v2/dags/doomed", { as: "user" })).statusCode, 403);
      const deleted = await api.call("DELETE", "/api/v2/dags/doomed", { as: "op" });
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.equal(deleted.body, "");
      for (const table of ["dag", "dag_run", "task_instance", "task_try", "task_log", "xcom", "dag_version"] as const) {
        assert.equal(await rows(table, "doomed"), 0, `${table} still has rows of doomed`);
      }
      assertProblem(await api.call("GET", "/api/v2/dags/doomed"), 404, "GET", DAG);
      assertProblem(await api.call("DELETE", "/api/v2/dags/doomed", { as: "op" }), 404, "DELETE", DAG);
      // The other DAGs are untouched.
      assert.equal(await rows("dag", "pipeline"), 1);

      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner", "extra"]).where("dag_id", "=", "doomed").where("event", "=", "delete_dag").execute();
      assert.equal(events.length, 1);
      assert.equal(events[0]!.owner, "op");
      assert.deepEqual(JSON.parse(events[0]!.extra!), { runs: 1, task_instances: 2, versions: 1 });

      // Its file is still deployed: the next deploy makes it anew, from version 1.
      const redeploy = await harness.reparse("after the delete");
      assert.ok(redeploy.added.includes("doomed"), JSON.stringify(redeploy));
      const again = await get<{ dag_id: string }>("/api/v2/dags/doomed", DAG);
      assert.equal(again.dag_id, "doomed");
      const source = await get<{ version_number: number }>("/api/v2/dagSources/doomed", SOURCE);
      assert.equal(source.version_number, 1);
    });

    test("delete: refused (409) while a try of the DAG runs, and nothing is deleted; allowed once it ended", async () => {
      const runId = await harness.trigger("sleepy");
      await waitFor(
        "the nap to run",
        async () => ((await harness.taskStates("sleepy", runId)).nap === "running" ? true : undefined),
        30_000,
        50,
      );
      const refused = await api.call("DELETE", "/api/v2/dags/sleepy", { as: "op" });
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(refused.json<{ detail: string }>().detail, /Task instances of dag with id: 'sleepy' are still running/);
      assert.equal(await rows("dag", "sleepy"), 1);
      assert.equal(await rows("task_instance", "sleepy"), 1);

      assert.equal((await harness.waitForRun("sleepy", runId)).state, "success");
      assert.equal((await api.call("DELETE", "/api/v2/dags/sleepy", { as: "admin" })).statusCode, 204);
      assert.equal(await rows("dag_run", "sleepy"), 0);
    });
  });
}
