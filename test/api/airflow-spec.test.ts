/** The spec helper must be able to fail as well as pass, or every API test using it proves nothing. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertMatchesSpec, responseSchemaErrors, specOperations } from "../helpers/airflow-spec.js";

// Every required field of the spec's DAGResponse, plus a few optional ones that may be null.
function dagBody(): Record<string, unknown> {
  return {
    dag_id: "etl",
    dag_display_name: "etl",
    is_paused: false,
    is_stale: false,
    fileloc: "/dags/etl.ts",
    timetable_partitioned: false,
    tags: [{ name: "nightly", dag_id: "etl", dag_display_name: "etl" }],
    max_active_tasks: 16,
    max_consecutive_failed_dag_runs: 0,
    has_task_concurrency_limits: false,
    has_import_errors: false,
    owners: ["airflow"],
    file_token: "abc",
    description: null,
    next_dagrun_logical_date: "2026-01-01T00:00:00Z",
  };
}

describe("airflow spec helper", () => {
  test("a valid version body passes, nullable git_version included", () => {
    assert.deepEqual(responseSchemaErrors("GET", "/api/v2/version", 200, { version: "1.0.0", git_version: null }), []);
    assertMatchesSpec("get", "/api/v2/version", 200, { version: "1.0.0", git_version: "abc123" });
  });

  test("a DAG collection passes, with null in nullable fields and $refs to nested schemas", () => {
    assertMatchesSpec("GET", "/api/v2/dags", 200, { dags: [dagBody()], total_entries: 1 });
    assertMatchesSpec("GET", "/api/v2/dags/{dag_id}", 200, { ...dagBody(), max_active_runs: null, last_parsed_time: null });
  });

  test("a missing required field fails, naming the field", () => {
    const errors = responseSchemaErrors("GET", "/api/v2/dags", 200, { dags: [] });
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /total_entries/);
    assert.throws(() => assertMatchesSpec("GET", "/api/v2/dags", 200, { dags: [] }), { name: "AssertionError", message: /total_entries/ });
  });

  test("a wrong type fails, inside a $ref'd schema too", () => {
    assert.match(responseSchemaErrors("GET", "/api/v2/version", 200, { version: 1 }).join("\n"), /\/version must be string/);
    const dag = { ...dagBody(), is_paused: "no", description: 5 };
    const errors = responseSchemaErrors("GET", "/api/v2/dags", 200, { dags: [dag], total_entries: 1 });
    assert.ok(errors.some((e) => e.startsWith("/dags/0/is_paused must be boolean")), errors.join("\n"));
    assert.ok(errors.some((e) => e.startsWith("/dags/0/description must be null")), errors.join("\n"));
  });

  test("a timestamp without a timezone is not a date-time", () => {
    const dag = { ...dagBody(), next_dagrun_logical_date: "2026-01-01 00:00:00" };
    const errors = responseSchemaErrors("GET", "/api/v2/dags/{dag_id}", 200, dag);
    assert.ok(errors.some((e) => e.includes('must match format "date-time"')), errors.join("\n"));
  });

  test("an error status uses that status's schema", () => {
    assertMatchesSpec("GET", "/api/v2/dags/{dag_id}", 404, { detail: "DAG etl not found" });
    assert.notDeepEqual(responseSchemaErrors("GET", "/api/v2/dags/{dag_id}", 404, {}), []);
  });

  test("a path, method or status the spec lacks throws, so a typo in a test is caught", () => {
    assert.throws(() => responseSchemaErrors("GET", "/api/v2/dag/{dag_id}", 200, {}), /no operation GET \/api\/v2\/dag\/\{dag_id\}/);
    assert.throws(() => responseSchemaErrors("PUT", "/api/v2/version", 200, {}), /no operation PUT/);
    assert.throws(() => responseSchemaErrors("GET", "/api/v2/version", 404, {}), /no response 404/);
  });

  test("lists the spec's operations", () => {
    const ops = specOperations();
    assert.ok(ops.length > 50, `only ${ops.length} operations`);
    assert.ok(ops.some((o) => o.method === "GET" && o.path === "/api/v2/dags" && o.operationId === "get_dags"));
  });
});
