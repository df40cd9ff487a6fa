/** `/metrics`: the cluster's figures from the DB and the API's latency, in Prometheus' text format. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useApi } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";

const DAGS = {
  "metrics_dag.ts": `import { dag, task } from "aloft";
dag("metrics_dag", { schedule: null }, () => { task("t", () => 1); });
`,
};

/** The value of one sample line, e.g. sample(text, 'aloft_dag_runs{state="success"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

for (const factory of testDialects()) {
  describe(`metrics on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    test("runs by state, open task states, the scheduler's epoch and request latency per route", async () => {
      const runId = await harness.trigger("metrics_dag");
      assert.equal((await harness.waitForRun("metrics_dag", runId)).state, "success");
      assert.equal((await api.call("GET", "/api/v2/dags")).statusCode, 200);
      const response = await api.call("GET", "/metrics", { as: null });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers["content-type"]), /^text\/plain/);
      const text = response.body;
      assert.equal(sample(text, 'aloft_dag_runs{state="success"}'), 1);
      assert.equal(sample(text, 'aloft_dag_runs{state="running"}'), 0);
      assert.equal(sample(text, 'aloft_task_instances{state="running"}'), 0);
      assert.equal(sample(text, "aloft_scheduler_epoch"), 1);
      assert.ok(sample(text, "aloft_scheduler_lease_age_seconds")! < 60);
      assert.equal(sample(text, 'aloft_api_request_seconds_count{method="GET",route="/api/v2/dags",status="200"}'), 1);
      assert.equal(sample(text, "aloft_metrics_db_errors_total"), 0);
      // The scheduler runs in this process here (as in standalone): its passes are timed.
      assert.ok(sample(text, "aloft_scheduler_loop_seconds_count")! > 0);
    });
  });
}
