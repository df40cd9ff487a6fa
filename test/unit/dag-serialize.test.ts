import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bash, chain, dag, task } from "../../src/dag/builder.js";
import { clearRegistry } from "../../src/dag/registry.js";
import { TASK_DEFAULTS, topologicalOrder } from "../../src/dag/serialize.js";
import type { SerializedTask } from "../../src/dag/types.js";

const noop = () => undefined;

beforeEach(() => clearRegistry());

const byId = (tasks: SerializedTask[]) => new Map(tasks.map((t) => [t.taskId, t]));

describe("serialize", () => {
  test("applies the built-in DAG and task defaults", () => {
    const serialized = dag("plain", {}, () => {
      task("only", noop);
    }).serialize("/dags/plain.ts");
    assert.deepEqual(serialized, {
      dagId: "plain",
      fileloc: "/dags/plain.ts",
      schedule: null,
      scheduleSpec: { kind: "none" },
      timetable: "trigger",
      dagrunTimeoutMs: null,
      start: null,
      end: null,
      timezone: "UTC",
      catchup: false,
      tags: [],
      description: null,
      maxActiveRuns: 16,
      maxActiveTasks: 16,
      params: {},
      tasks: [
        {
          taskId: "only",
          kind: "function",
          retries: 0,
          retryDelayMs: 300_000,
          retryExponentialBackoff: false,
          maxRetryDelayMs: null,
          dependsOnPast: false,
          waitForDownstream: false,
          executionTimeoutMs: null,
          triggerRule: "all_success",
          queue: "default",
          pool: "default_pool",
          poolSlots: 1,
          priorityWeight: 1,
          weightRule: "downstream",
          env: {},
          upstream: [],
          downstream: [],
        },
      ],
    });
  });

  test("keeps the DAG's own options", () => {
    const serialized = dag(
      "full",
      {
        schedule: "@daily",
        start: "2025-01-01",
        end: new Date("2025-12-31T12:00:00Z"),
        timezone: "America/New_York",
        catchup: true,
        tags: ["etl"],
        description: "nightly",
        maxActiveRuns: 2,
        params: { n: 1, nested: { a: [1] } },
      },
      noop,
    ).serialize("/dags/full.ts");
    assert.equal(serialized.schedule, "@daily");
    // A start without an offset is midnight in the DAG's timezone.
    assert.equal(serialized.start, "2025-01-01T05:00:00.000Z");
    assert.equal(serialized.end, "2025-12-31T12:00:00.000Z");
    assert.equal(serialized.timezone, "America/New_York");
    assert.equal(serialized.catchup, true);
    assert.deepEqual(serialized.tags, ["etl"]);
    assert.equal(serialized.description, "nightly");
    assert.equal(serialized.maxActiveRuns, 2);
    assert.deepEqual(serialized.params, { n: 1, nested: { a: [1] } });
  });

  test("puts a task's own options over the DAG defaults over the built-in defaults", () => {
    const serialized = dag(
      "layered",
      { defaults: { retries: 2, retryDelay: "1m", executionTimeout: "1h", queue: "dag_queue", env: { FROM: "dag" } } },
      () => {
        task("inherits", noop);
        bash("overrides", "echo hi", { retries: 0, queue: "own", executionTimeout: null, env: { FROM: "task" }, poolSlots: 3 });
      },
    ).serialize("/dags/layered.ts");
    const tasks = byId(serialized.tasks);
    const inherits = tasks.get("inherits")!;
    assert.equal(inherits.retries, 2);
    assert.equal(inherits.retryDelayMs, 60_000);
    assert.equal(inherits.executionTimeoutMs, 3_600_000);
    assert.equal(inherits.queue, "dag_queue");
    assert.deepEqual(inherits.env, { FROM: "dag" });
    assert.equal(inherits.pool, TASK_DEFAULTS.pool);
    assert.equal(inherits.poolSlots, 1);

    const overrides = tasks.get("overrides")!;
    assert.equal(overrides.kind, "bash");
    assert.equal(overrides.command, "echo hi");
    assert.equal(overrides.retries, 0);
    assert.equal(overrides.retryDelayMs, 60_000);
    assert.equal(overrides.executionTimeoutMs, null, "an explicit null wins over the DAG default");
    assert.equal(overrides.queue, "own");
    assert.deepEqual(overrides.env, { FROM: "task" });
    assert.equal(overrides.poolSlots, 3);
    assert.equal("command" in inherits, false);
  });

  test("path and preamble come from the task, its group's or the DAG's defaults; absent when none sets them", () => {
    const serialized = dag("environments", { defaults: { path: ["/opt/dag/bin"], preamble: "source /etc/dag-env.sh" } }, () => {
      task("inherits", noop);
      bash("own", "spark-submit job.py", { path: ["/opt/spark/bin"], preamble: "" });
    }).serialize("/dags/environments.ts");
    const tasks = byId(serialized.tasks);
    assert.deepEqual(tasks.get("inherits")!.path, ["/opt/dag/bin"]);
    assert.equal(tasks.get("inherits")!.preamble, "source /etc/dag-env.sh");
    assert.deepEqual(tasks.get("own")!.path, ["/opt/spark/bin"]);
    assert.equal("preamble" in tasks.get("own")!, false, "an empty preamble is none");
    const plain = dag("plain_env", {}, () => void task("t", noop)).serialize("/dags/plain.ts");
    assert.equal("path" in plain.tasks[0]!, false);
    assert.equal("preamble" in plain.tasks[0]!, false);
  });

  test("orders tasks topologically, ties in definition order", () => {
    const serialized = dag("ordered", {}, () => {
      const report = bash("report", "true");
      const extract = bash("extract", "true");
      const transform = bash("transform", "true");
      const load = bash("load", "true");
      bash("audit", "true");
      chain(extract, transform, load, report);
    }).serialize("/dags/ordered.ts");
    assert.deepEqual(
      serialized.tasks.map((t) => t.taskId),
      ["extract", "transform", "load", "report", "audit"],
    );
  });

  test("lists upstream and downstream ids in definition order", () => {
    const serialized = dag("wired", {}, () => {
      const [a, b, c, d] = [bash("a", "true"), bash("b", "true"), bash("c", "true"), bash("d", "true")];
      d.after([c, b]);
      a.then([c, b]);
    }).serialize("/dags/wired.ts");
    const tasks = byId(serialized.tasks);
    assert.deepEqual(serialized.tasks.map((t) => t.taskId), ["a", "b", "c", "d"]);
    assert.deepEqual(tasks.get("a")!.downstream, ["b", "c"]);
    assert.deepEqual(tasks.get("d")!.upstream, ["b", "c"]);
    assert.deepEqual(tasks.get("b")!.upstream, ["a"]);
    assert.deepEqual(tasks.get("b")!.downstream, ["d"]);
  });

  test("is deterministic and independent of the author's objects", () => {
    const params = { list: [1, 2] };
    const built = dag("stable", { params }, () => {
      bash("a", "true", { env: { K: "v" } }).then(bash("b", "true"));
    });
    const first = built.serialize("/dags/stable.ts");
    params.list.push(3);
    first.tasks[0]!.env.K = "changed";
    assert.deepEqual(built.serialize("/dags/stable.ts").params, { list: [1, 2] });
    assert.deepEqual(built.serialize("/dags/stable.ts"), built.serialize("/dags/stable.ts"));
    assert.deepEqual(built.serialize("/dags/stable.ts").tasks[0]!.env, { K: "v" });
  });

  test("topologicalOrder handles long chains defined in reverse", () => {
    const built = dag("reverse", {}, () => {
      const ids = Array.from({ length: 5000 }, (_, i) => `t${i}`);
      const tasks = ids.map((id) => bash(id, "true"));
      for (let i = tasks.length - 1; i > 0; i--) tasks[i]!.then(tasks[i - 1]!);
    });
    const order = topologicalOrder(built.tasks).map((t) => t.taskId);
    assert.equal(order[0], "t4999");
    assert.equal(order[4999], "t0");
    assert.equal(order.length, 5000);
  });
});
