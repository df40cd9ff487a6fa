/**
 * The event log, DAG versions and backfills in Airflow's shapes, and Aloft's additions (HA clusters,
 * workers, bundles), on a running engine, on every dialect.
 */
import assert from "node:assert/strict";
import os from "node:os";
import { describe, test } from "node:test";
import { joinCluster } from "../../src/ha/cluster-secret.js";
import { takeLease } from "../../src/ha/election.js";
import { recordEvent, saveNode } from "../../src/ha/registry.js";
import { VERSION as VERSION_OF_ALOFT } from "../../src/version.js";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { useApi } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";

const EVENT_LOGS = "/api/v2/eventLogs";
const EVENT_LOG = "/api/v2/eventLogs/{event_log_id}";
const VERSIONS = "/api/v2/dags/{dag_id}/dagVersions";
const VERSION = "/api/v2/dags/{dag_id}/dagVersions/{version_number}";
const BACKFILLS = "/api/v2/backfills";
const BACKFILL = "/api/v2/backfills/{backfill_id}";

const VERSIONED = (description: string) => `import { dag, task } from "aloft";
dag("versioned", { schedule: null, description: "${description}" }, () => { task("t", () => 1); });
`;

const DAGS = {
  "versioned.ts": VERSIONED("first"),
  // Daily, starting far ahead, so that only the backfill makes runs.
  "daily.ts": `import { dag, task } from "aloft";
dag("daily", { schedule: "@daily", start: "2099-01-01" }, () => { task("t", () => 1); });
`,
};

interface EventLog {
  event_log_id: number;
  when: string;
  event: string;
  owner: string;
  dag_id: string | null;
}
interface Backfill {
  id: number;
  dag_id: string;
  is_paused: boolean;
  completed_at: string | null;
  max_active_runs: number;
  reprocess_behavior: string;
  dag_run_conf: Record<string, unknown>;
}

for (const factory of testDialects()) {
  describe(`API event logs, DAG versions, backfills and Aloft's additions on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    /** GET `url` as a viewer: 200, and (with `specPath`) the spec's shape. */
    async function get<T = Record<string, unknown>>(url: string, specPath?: string): Promise<T> {
      const response = await api.call("GET", url);
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      if (specPath) assertMatchesSpec("GET", specPath, 200, response.json());
      return response.json<T>();
    }

    /** The response is a problem of `status`, in the spec's shape for the operation when it has one. */
    function assertProblem(response: { statusCode: number; body: string; json(): unknown }, status: number, method?: string, specPath?: string) {
      assert.equal(response.statusCode, status, response.body);
      if (method && specPath) assertMatchesSpec(method, specPath, status, response.json());
    }

    const count = async (table: "backfill" | "dag_run" | "event_log") =>
      Number((await harness.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);

    test("event log: a PATCH of a DAG writes events that are listed, filtered, paged and got by id", async () => {
      assert.equal((await api.call("PATCH", "/api/v2/dags/versioned", { as: "user", body: { is_paused: true } })).statusCode, 200);
      assert.equal((await api.call("PATCH", "/api/v2/dags/versioned", { as: "op", body: { is_paused: false } })).statusCode, 200);

      const all = await get<{ event_logs: EventLog[]; total_entries: number }>(`${EVENT_LOGS}?dag_id=versioned`, EVENT_LOGS);
      assert.equal(all.total_entries, 2);
      assert.deepEqual(
        all.event_logs.map((e) => [e.event, e.owner, e.dag_id]),
        [
          ["paused", "user", "versioned"],
          ["unpaused", "op", "versioned"],
        ],
      );
      const [first, second] = all.event_logs as [EventLog, EventLog];

      const only = async (query: string) => (await get<{ event_logs: EventLog[]; total_entries: number }>(`${EVENT_LOGS}?dag_id=versioned&${query}`, EVENT_LOGS)).event_logs.map((e) => e.event);
      assert.deepEqual(await only("event=paused"), ["paused"]);
      assert.deepEqual(await only("owner=op"), ["unpaused"]);
      assert.deepEqual(await only("task_id=t"), []);
      assert.deepEqual(await only("run_id=none"), []);
      assert.deepEqual(await only("order_by=-id"), ["unpaused", "paused"]);
      // before and after are strict bounds, as in Airflow.
      const shift = (when: string, ms: number) => encodeURIComponent(new Date(Date.parse(when) + ms).toISOString());
      assert.deepEqual(await only(`after=${shift(first.when, -1)}&before=${shift(second.when, 1)}`), ["paused", "unpaused"]);
      assert.deepEqual(await only(`after=${shift(second.when, 0)}`), []);
      assert.deepEqual(await only(`before=${shift(first.when, 0)}`), []);

      const paged = await get<{ event_logs: EventLog[]; total_entries: number }>(`${EVENT_LOGS}?dag_id=versioned&limit=1&offset=1`, EVENT_LOGS);
      assert.equal(paged.total_entries, 2);
      assert.deepEqual(paged.event_logs.map((e) => e.event), ["unpaused"]);

      const one = await get<EventLog>(`/api/v2/eventLogs/${first.event_log_id}`, EVENT_LOG);
      assert.deepEqual(one, first);
    });

    test("DAG versions: a DAG deployed twice with a change has versions 1 and 2", async () => {
      harness.writeDags({ "versioned.ts": VERSIONED("second") });
      const second = await harness.reparse("second deploy");
      assert.deepEqual(second.changed, ["versioned"]);

      const list = await get<{ dag_versions: Array<{ version_number: number; dag_id: string; bundle_version: string }>; total_entries: number }>(
        "/api/v2/dags/versioned/dagVersions",
        VERSIONS,
      );
      assert.equal(list.total_entries, 2);
      assert.deepEqual(list.dag_versions.map((v) => v.version_number), [1, 2]);
      assert.deepEqual(list.dag_versions.map((v) => v.bundle_version), [String(harness.firstParse.bundle!.id), String(second.bundle!.id)]);
      const desc = await get<{ dag_versions: Array<{ version_number: number }> }>("/api/v2/dags/versioned/dagVersions?order_by=-version_number&limit=1", VERSIONS);
      assert.deepEqual(desc.dag_versions.map((v) => v.version_number), [2]);
      const filtered = await get<{ dag_versions: Array<{ version_number: number }> }>("/api/v2/dags/versioned/dagVersions?version_number=1&bundle_name=aloft", VERSIONS);
      assert.deepEqual(filtered.dag_versions.map((v) => v.version_number), [1]);

      const two = await get<{ version_number: number; dag_id: string }>("/api/v2/dags/versioned/dagVersions/2", VERSION);
      assert.equal(two.version_number, 2);
      assert.equal(two.dag_id, "versioned");
      // `~`: every DAG's versions; daily did not change.
      const every = await get<{ dag_versions: Array<{ dag_id: string; version_number: number }> }>("/api/v2/dags/~/dagVersions", VERSIONS);
      assert.deepEqual(every.dag_versions.map((v) => `${v.dag_id}:${v.version_number}`).sort(), ["daily:1", "versioned:1", "versioned:2"]);

      assertProblem(await api.call("GET", "/api/v2/dags/versioned/dagVersions/3"), 404, "GET", VERSION);
      assertProblem(await api.call("GET", "/api/v2/dags/no_such_dag/dagVersions"), 404, "GET", VERSIONS);
      assertProblem(await api.call("GET", "/api/v2/dags/no_such_dag/dagVersions/1"), 404, "GET", VERSION);
    });

    test("bundles: each deploy, newest first, with its message and sizes", async () => {
      const body = await get<{ bundles: Array<{ id: number; hash: string; message: string | null; created_at: string; file_count: number; bytes: number }>; total_entries: number }>(
        "/api/v2/bundles",
      );
      assert.equal(body.total_entries, 2);
      const [newest, oldest] = body.bundles;
      assert.equal(oldest!.id, harness.firstParse.bundle!.id);
      assert.equal(newest!.message, "second deploy");
      assert.equal(newest!.hash.length, 64);
      assert.equal(newest!.file_count, 2);
      assert.ok(newest!.bytes > 0);
      assert.ok(!Number.isNaN(Date.parse(newest!.created_at)));
      assert.deepEqual((await get<{ bundles: Array<{ id: number }> }>("/api/v2/bundles?limit=1&offset=1")).bundles.map((b) => b.id), [oldest!.id]);
    });

    test("backfills: one over 3 days makes 3 runs; it is listed, paused, unpaused and cancelled; a viewer cannot create one", async () => {
      // The DAG is paused so that the runs stay queued: pausing and cancelling then always find them so.
      assert.equal((await api.call("PATCH", "/api/v2/dags/daily", { as: "user", body: { is_paused: true } })).statusCode, 200);
      const body = { dag_id: "daily", from_date: "2024-01-01T00:00:00Z", to_date: "2024-01-03T00:00:00Z", max_active_runs: 2, dag_run_conf: { region: "eu" } };

      const denied = await api.call("POST", BACKFILLS, { as: "viewer", body });
      assertProblem(denied, 403, "POST", BACKFILLS);
      assert.equal(await count("backfill"), 0);

      const created = await api.call("POST", BACKFILLS, { as: "user", body });
      assert.equal(created.statusCode, 200, created.body);
      assertMatchesSpec("POST", BACKFILLS, 200, created.json());
      const backfill = created.json<Backfill>();
      assert.equal(backfill.dag_id, "daily");
      assert.equal(backfill.max_active_runs, 2);
      assert.equal(backfill.reprocess_behavior, "none");
      assert.deepEqual(backfill.dag_run_conf, { region: "eu" });
      assert.equal(backfill.completed_at, null);

      const runs = await get<{ dag_runs: Array<{ logical_date: string; state: string; conf: unknown }>; total_entries: number }>(
        "/api/v2/dags/daily/dagRuns?run_type=backfill&order_by=logical_date",
        "/api/v2/dags/{dag_id}/dagRuns",
      );
      assert.equal(runs.total_entries, 3);
      assert.deepEqual(runs.dag_runs.map((r) => r.logical_date), ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z", "2024-01-03T00:00:00.000Z"]);
      assert.ok(runs.dag_runs.every((r) => r.state === "queued"));

      const listed = await get<{ backfills: Backfill[]; total_entries: number }>(`${BACKFILLS}?dag_id=daily`, BACKFILLS);
      assert.deepEqual(listed.backfills.map((b) => b.id), [backfill.id]);
      assert.equal((await get<{ total_entries: number }>(`${BACKFILLS}?dag_id=versioned`, BACKFILLS)).total_entries, 0);
      assert.deepEqual(await get(`${BACKFILLS}/${backfill.id}`, BACKFILL), created.json());

      for (const [action, paused] of [
        ["pause", true],
        ["unpause", false],
      ] as const) {
        const response = await api.call("PUT", `${BACKFILLS}/${backfill.id}/${action}`, { as: "user" });
        assert.equal(response.statusCode, 200, response.body);
        assertMatchesSpec("PUT", `${BACKFILL}/${action}`, 200, response.json());
        assert.equal(response.json<Backfill>().is_paused, paused);
      }

      const cancelled = await api.call("PUT", `${BACKFILLS}/${backfill.id}/cancel`, { as: "user" });
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assertMatchesSpec("PUT", `${BACKFILL}/cancel`, 200, cancelled.json());
      assert.notEqual(cancelled.json<Backfill>().completed_at, null);
      // Its queued runs are failed.
      const failed = await get<{ dag_runs: Array<{ state: string }> }>("/api/v2/dags/daily/dagRuns?run_type=backfill", "/api/v2/dags/{dag_id}/dagRuns");
      assert.deepEqual(failed.dag_runs.map((r) => r.state), ["failed", "failed", "failed"]);
      // A cancelled backfill cannot be cancelled or paused again.
      assertProblem(await api.call("PUT", `${BACKFILLS}/${backfill.id}/cancel`, { as: "user" }), 409, "PUT", `${BACKFILL}/cancel`);
      assertProblem(await api.call("PUT", `${BACKFILLS}/${backfill.id}/pause`, { as: "user" }), 409, "PUT", `${BACKFILL}/pause`);
      assertProblem(await api.call("PUT", `${BACKFILLS}/${backfill.id}/cancel`, { as: "viewer" }), 403, "PUT", `${BACKFILL}/cancel`);

      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("dag_id", "=", "daily").where("event", "like", "backfill%").orderBy("id").execute();
      assert.deepEqual(events, [
        { event: "backfill_create", owner: "user" },
        { event: "backfill_pause", owner: "user" },
        { event: "backfill_unpause", owner: "user" },
        { event: "backfill_cancel", owner: "user" },
      ]);
    });

    test("backfills: options Aloft cannot honour and bad ranges are a 400 naming them; nothing is created", async () => {
      const counts = { backfills: await count("backfill"), runs: await count("dag_run") };
      const base = { dag_id: "daily", from_date: "2024-02-01T00:00:00Z", to_date: "2024-02-03T00:00:00Z" };
      const latest = await api.call("POST", BACKFILLS, { as: "user", body: { ...base, run_on_latest_version: false } });
      assertProblem(latest, 400, "POST", BACKFILLS);
      assert.match(latest.json<{ detail: string }>().detail, /run_on_latest_version/);
      const reversed = await api.call("POST", BACKFILLS, { as: "user", body: { ...base, from_date: base.to_date, to_date: base.from_date } });
      assertProblem(reversed, 400, "POST", BACKFILLS);
      assert.match(reversed.json<{ detail: string }>().detail, /from_date .* to_date/);
      const unscheduled = await api.call("POST", BACKFILLS, { as: "user", body: { ...base, dag_id: "versioned" } });
      assertProblem(unscheduled, 400, "POST", BACKFILLS);
      assert.match(unscheduled.json<{ detail: string }>().detail, /no time-based schedule/);
      assert.deepEqual({ backfills: await count("backfill"), runs: await count("dag_run") }, counts);
    });

    test("bad input: an unknown field is a 422, a missing id a 404, and neither changes anything", async () => {
      const counts = { backfills: await count("backfill"), runs: await count("dag_run"), events: await count("event_log") };
      const unknownField = await api.call("POST", BACKFILLS, {
        as: "user",
        body: { dag_id: "daily", from_date: "2024-03-01T00:00:00Z", to_date: "2024-03-02T00:00:00Z", partition: "x" },
      });
      assertProblem(unknownField, 422, "POST", BACKFILLS);
      assert.deepEqual(unknownField.json<{ detail: Array<{ loc: unknown[] }> }>().detail[0]!.loc, ["body", "partition"]);
      assertProblem(await api.call("POST", BACKFILLS, { as: "user", body: { dag_id: "daily", from_date: "2024-03-01T00:00:00Z" } }), 422, "POST", BACKFILLS);
      assertProblem(await api.call("GET", `${EVENT_LOGS}?map_index=0`), 422, "GET", EVENT_LOGS);
      assertProblem(await api.call("GET", `${EVENT_LOGS}?order_by=nothing`), 400);
      assertProblem(await api.call("GET", "/api/v2/dags/versioned/dagVersions?bundle=x"), 422, "GET", VERSIONS);
      assertProblem(await api.call("GET", "/api/v2/bundles?sort=id"), 422);

      assertProblem(await api.call("POST", BACKFILLS, { as: "user", body: { dag_id: "no_such_dag", from_date: "2024-03-01T00:00:00Z", to_date: "2024-03-02T00:00:00Z" } }), 404, "POST", BACKFILLS);
      assertProblem(await api.call("GET", "/api/v2/eventLogs/999999"), 404, "GET", EVENT_LOG);
      assertProblem(await api.call("GET", `${BACKFILLS}/999999`), 404, "GET", BACKFILL);
      for (const action of ["pause", "unpause", "cancel"]) {
        assertProblem(await api.call("PUT", `${BACKFILLS}/999999/${action}`, { as: "user" }), 404, "PUT", `${BACKFILL}/${action}`);
      }
      assert.deepEqual({ backfills: await count("backfill"), runs: await count("dag_run"), events: await count("event_log") }, counts);
    });

    test("HA: the scheduler cluster shows the lease the harness's engine took; an unknown cluster is a 404", async () => {
      const status = await get<{
        cluster: string;
        epoch: number;
        leader: { node_id: string; epoch: number; expires_in_ms: number; renewed_ms_ago: number } | null;
        nodes: unknown[];
        events: unknown[];
      }>("/api/v2/ha/clusters/scheduler");
      assert.equal(status.cluster, "scheduler");
      // A standalone engine takes the lease itself, as host:pid, without joining a cluster (no node rows).
      assert.equal(status.epoch, 1);
      assert.equal(status.leader?.node_id, `${os.hostname()}:${process.pid}`);
      assert.equal(status.leader?.epoch, 1);
      assert.ok(status.leader!.expires_in_ms > 0, `expires in ${status.leader!.expires_in_ms} ms`);
      assert.ok(status.leader!.renewed_ms_ago >= 0);
      assert.deepEqual(status.nodes, []);
      assert.deepEqual(status.events, []);

      assertProblem(await api.call("GET", "/api/v2/ha/clusters/no_such_cluster"), 404);
      assertProblem(await api.call("GET", "/api/v2/ha/clusters/no_such_cluster/events"), 404);
      assertProblem(await api.call("GET", "/api/v2/ha/clusters/scheduler", { as: null }), 401);
    });

    test("HA: a controller's cluster shows its nodes (role, last seen, child pid and health) and events, never its secrets", async () => {
      const { store } = harness;
      const key = await joinCluster(store, "etl", "node-a", "a cluster secret");
      const node = { cluster: "etl", nodeId: "node-a", host: "host-a", pid: 4242, priority: 200, noPreempt: false };
      await saveNode(store, node, { role: "standby", childPid: null, childHealth: null }, true);
      await recordEvent(store, { cluster: "etl", nodeId: "node-a", from: "starting", to: "standby", reason: "joined", epoch: null });
      const epoch = await takeLease(store, "etl", { node: "node-a", priority: 200, session: null, proof: (e) => key.proof("node-a", e) }, null, 10_000);
      assert.equal(epoch, 1);
      await saveNode(store, node, { role: "active", childPid: 4343, childHealth: "healthy" });
      await recordEvent(store, { cluster: "etl", nodeId: "node-a", from: "standby", to: "active", reason: "took the lease", epoch: 1 });

      const response = await api.call("GET", "/api/v2/ha/clusters/etl");
      assert.equal(response.statusCode, 200, response.body);
      const status = response.json();
      assert.equal(status.leader.node_id, "node-a");
      assert.equal(status.epoch, 1);
      assert.equal(status.nodes.length, 1);
      assert.deepEqual(
        { ...status.nodes[0], last_seen_ms_ago: undefined, started_at: undefined },
        { node_id: "node-a", host: "host-a", pid: 4242, priority: 200, no_preempt: false, role: "active", last_seen_ms_ago: undefined, child_pid: 4343, child_health: "healthy", started_at: undefined, version: VERSION_OF_ALOFT },
      );
      assert.ok(status.nodes[0].last_seen_ms_ago >= 0);
      assert.deepEqual(
        status.events.map((e: { from: string; to: string; epoch: number | null }) => [e.from, e.to, e.epoch]),
        [
          ["standby", "active", 1],
          ["starting", "standby", null],
        ],
      );
      const cluster = await store.db.selectFrom("ha_cluster").select(["salt", "verifier"]).where("name", "=", "etl").executeTakeFirstOrThrow();
      const lease = await store.db.selectFrom("scheduler_lease").select("proof").where("name", "=", "etl").executeTakeFirstOrThrow();
      for (const secret of [cluster.salt, cluster.verifier, lease.proof!, "a cluster secret"]) assert.ok(!response.body.includes(secret), "the status shows a secret");
      assert.doesNotMatch(response.body, /salt|verifier|proof/);

      // The list: the engine's `scheduler` lease (no nodes) and `etl`, by name.
      const list = await get<{ clusters: Array<{ name: string; epoch: number | null; leader: string | null; node_count: number }>; total_entries: number }>("/api/v2/ha/clusters");
      assert.equal(list.total_entries, 2);
      assert.deepEqual(list.clusters, [
        { name: "etl", epoch: 1, leader: "node-a", node_count: 1 },
        { name: "scheduler", epoch: 1, leader: `${os.hostname()}:${process.pid}`, node_count: 0 },
      ]);
      assertProblem(await api.call("GET", "/api/v2/ha/clusters", { as: null }), 401);
      assertProblem(await api.call("GET", "/api/v2/ha/clusters?limit=1"), 422);

      const events = await get<{ events: Array<{ to: string }>; total_entries: number }>("/api/v2/ha/clusters/etl/events?limit=1");
      assert.equal(events.total_entries, 2);
      assert.deepEqual(events.events.map((e) => e.to), ["active"]);
      const oldest = await get<{ events: Array<{ to: string }> }>("/api/v2/ha/clusters/etl/events?order_by=id&limit=1");
      assert.deepEqual(oldest.events.map((e) => e.to), ["standby"]);
    });

    test("workers: the harness's local executor, and the default queue", async () => {
      const body = await get<{
        workers: Array<{ name: string; kind: string; state: string; pid: number }>;
        queues: Array<{ queue: string; waiting_in_broker: unknown }>;
      }>("/api/v2/workers");
      const local = body.workers.find((w) => w.kind === "local");
      assert.ok(local, JSON.stringify(body.workers));
      assert.equal(local.name, `local@${os.hostname()}:${process.pid}`);
      assert.equal(local.state, "running");
      assert.equal(local.pid, process.pid);
      const queue = body.queues.find((q) => q.queue === "default");
      assert.equal(queue?.waiting_in_broker, "n/a (local executor)");
      assertProblem(await api.call("GET", "/api/v2/workers", { as: null }), 401);
    });
  });
}
