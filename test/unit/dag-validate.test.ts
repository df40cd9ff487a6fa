import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bash, chain, dag, task } from "../../src/dag/builder.js";
import { clearRegistry, registeredDags } from "../../src/dag/registry.js";
import { TRIGGER_RULES, type DagOptions, type TaskOptions } from "../../src/dag/types.js";
import { DagDefinitionError } from "../../src/errors.js";

const noop = () => undefined;

beforeEach(() => clearRegistry());

/** Asserts `build` throws a DagDefinitionError whose message contains every fragment. */
function assertDagError(build: () => unknown, ...fragments: string[]): void {
  assert.throws(build, (error: unknown) => {
    assert.ok(error instanceof DagDefinitionError, `expected a DagDefinitionError, got ${String(error)}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `message "${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

/** A DAG with one task carrying `options`; the error must name the DAG and the task. */
function assertTaskOptionError(options: unknown, ...fragments: string[]): void {
  assertDagError(() => dag("opts", {}, () => void task("the_task", noop, options as TaskOptions)), "DAG 'opts', task 'the_task'", ...fragments);
  assert.deepEqual(registeredDags(), [], "an invalid DAG is not registered");
}

function assertDagOptionError(options: unknown, ...fragments: string[]): void {
  assertDagError(() => dag("dag_opts", options as DagOptions, noop), "DAG 'dag_opts'", ...fragments);
  assert.deepEqual(registeredDags(), [], "an invalid DAG is not registered");
}

describe("ids", () => {
  test("accept letters, digits, '_', '-' and '.'", () => {
    assert.doesNotThrow(() => dag("My_dag-1.0", {}, () => void task("Task_1-a.b", noop)));
    assert.doesNotThrow(() => dag("x".repeat(250), {}, noop));
  });

  test("reject an empty DAG id", () => {
    assertDagError(() => dag("", {}, noop), 'DAG id "" is invalid', "must not be empty");
  });

  test("reject DAG ids with other characters", () => {
    for (const id of ["my dag", "a/b", "é", "a:b"]) {
      assertDagError(() => dag(id, {}, noop), `DAG id ${JSON.stringify(id)} is invalid`, "letters, digits, '_', '-' and '.'");
    }
  });

  test("reject ids longer than 250 characters", () => {
    assertDagError(() => dag("x".repeat(251), {}, noop), "at most 250 characters", "has 251");
    assertDagError(() => dag("long_task", {}, () => void task("t".repeat(251), noop)), "DAG 'long_task'", "at most 250 characters");
  });

  test("reject invalid task ids, naming the DAG and the task id", () => {
    assertDagError(() => dag("tids", {}, () => void task("", noop)), "DAG 'tids'", 'task id "" is invalid', "must not be empty");
    assertDagError(() => dag("tids", {}, () => void bash("bad id", "true")), "DAG 'tids'", 'task id "bad id" is invalid');
  });

  test("reject a duplicate task id", () => {
    assertDagError(
      () =>
        dag("dups", {}, () => {
          task("same", noop);
          bash("same", "true");
        }),
      "DAG 'dups', task 'same'",
      "already defined",
    );
  });

  test("reject a duplicate DAG id, naming it", () => {
    dag("twice", {}, noop);
    assertDagError(() => dag("twice", {}, noop), "DAG 'twice'", "a DAG with id 'twice' is already defined");
    assert.equal(registeredDags().length, 1);
  });
});

describe("cycles", () => {
  test("name the tasks on the cycle in order", () => {
    assertDagError(
      () =>
        dag("loop", {}, () => {
          const [start, a, b, c] = [bash("start", "true"), bash("a", "true"), bash("b", "true"), bash("c", "true")];
          start.then(a).then(b).then(c).then(a);
        }),
      "DAG 'loop'",
      "cycle: a -> b -> c -> a",
    );
    assert.deepEqual(registeredDags(), []);
  });

  test("catch a task that depends on itself", () => {
    assertDagError(
      () =>
        dag("self", {}, () => {
          const me = bash("me", "true");
          me.then(me);
        }),
      "DAG 'self', task 'me'",
      "cycle: me -> me",
    );
  });

  test("handle long chains without a stack overflow, and still find a cycle at the end", () => {
    const length = 20_000;
    assert.doesNotThrow(() =>
      dag("long_chain", {}, () => {
        let previous = bash("t0", "true");
        for (let i = 1; i < length; i++) previous = previous.then(bash(`t${i}`, "true"));
      }),
    );
    assertDagError(
      () =>
        dag("long_cycle", {}, () => {
          const first = bash("t0", "true");
          let previous = first;
          for (let i = 1; i < length; i++) previous = previous.then(bash(`t${i}`, "true"));
          previous.then(first);
        }),
      "cycle: t0 -> t1 -> t2",
      `t${length - 1} -> t0`,
    );
  });

  test("are not reported for diamonds", () => {
    assert.doesNotThrow(() =>
      dag("diamond", {}, () => {
        chain(bash("a", "true"), [bash("b", "true"), bash("c", "true")], bash("d", "true"));
      }),
    );
  });
});

describe("task options", () => {
  test("accept valid values", () => {
    assert.doesNotThrow(() =>
      dag("valid_opts", {}, () => {
        task("t", noop, {
          retries: 3,
          retryDelay: "30s",
          executionTimeout: null,
          triggerRule: "one_failed",
          queue: "gpu",
          pool: "db",
          poolSlots: 2,
          priorityWeight: -5,
          env: { A: "1" },
        });
        bash("u", "true", { executionTimeout: 60_000, retryDelay: 0, retries: undefined });
      }),
    );
  });

  test("name an unknown option and list the valid ones", () => {
    assertTaskOptionError({ retires: 3 }, "unknown option 'retires'", "retries, retryDelay, executionTimeout, triggerRule, queue, pool, poolSlots, priorityWeight, env");
  });

  test("list the trigger rules for an unknown one", () => {
    assertTaskOptionError({ triggerRule: "all_sucess" }, 'unknown trigger rule "all_sucess"', TRIGGER_RULES.join(", "));
  });

  test("retries must be a non-negative integer", () => {
    assertTaskOptionError({ retries: -1 }, "option retries must be a non-negative integer, got -1");
    assertTaskOptionError({ retries: 1.5 }, "option retries must be a non-negative integer, got 1.5");
    assertTaskOptionError({ retries: "3" }, 'option retries must be a non-negative integer, got "3"');
  });

  test("priorityWeight must be an integer and poolSlots an integer >= 1", () => {
    assertTaskOptionError({ priorityWeight: 1.5 }, "option priorityWeight must be an integer, got 1.5");
    assertTaskOptionError({ poolSlots: 0 }, "option poolSlots must be an integer >= 1, got 0");
    assertTaskOptionError({ poolSlots: 2.5 }, "option poolSlots must be an integer >= 1, got 2.5");
  });

  test("queue must be a queue name and pool a non-empty string", () => {
    assertTaskOptionError({ queue: "" }, `option queue must be a queue name of 1 to 200 letters, digits, '_', '.' or '-', got ""`);
    assertTaskOptionError({ queue: "spark jobs" }, `option queue must be a queue name of 1 to 200 letters, digits, '_', '.' or '-', got "spark jobs"`);
    assertTaskOptionError({ pool: 5 }, "option pool must be a non-empty string, got 5");
  });

  test("env must be a record of strings", () => {
    assertTaskOptionError({ env: { PORT: 8080 } }, "option env 'PORT' must be a string, got 8080");
    assertTaskOptionError({ env: ["A=1"] }, "option env must be an object of environment variable names to string values, got an array");
  });

  test("path must be an array of single folders; preamble a string", () => {
    assertTaskOptionError({ path: "/opt/spark/bin" }, 'option path must be an array of folders such as ["/opt/spark/bin"], got "/opt/spark/bin"');
    assertTaskOptionError({ path: ["/opt/a:/opt/b"] }, "option path item 0 must be one folder: ':' separates PATH entries");
    assertTaskOptionError({ path: ["/ok", ""] }, 'option path item 1 must be a non-empty string (a folder), got ""');
    assertTaskOptionError({ preamble: ["source env.sh"] }, "option preamble must be a string (a bash script");
    assertDagOptionError({ defaults: { path: [1] } }, "DAG 'dag_opts': option defaults: option path item 0 must be a non-empty string (a folder), got 1");
  });

  test("retryDelay and executionTimeout must be durations", () => {
    assertTaskOptionError({ retryDelay: "5 minutes" }, "option retryDelay: invalid duration \"5 minutes\"", '"1h30m"');
    assertTaskOptionError({ executionTimeout: -1 }, "option executionTimeout: invalid duration -1");
    assertTaskOptionError({ executionTimeout: 0 }, "option executionTimeout must be greater than 0 (use null for no limit)");
  });

  test("options must be an object", () => {
    assertTaskOptionError("fast", 'task options must be an object, got "fast"');
  });
});

describe("DAG options", () => {
  test("accept valid values", () => {
    assert.doesNotThrow(() =>
      dag(
        "valid_dag_opts",
        {
          schedule: "*/5 * * * *",
          start: new Date("2025-01-01T00:00:00Z"),
          end: "2026-01-01",
          timezone: "Europe/Paris",
          catchup: true,
          tags: ["a", "b"],
          description: "x",
          maxActiveRuns: 1,
          params: { n: 1, nested: { list: [1, "a"] } },
          defaults: { retries: 2 },
        },
        noop,
      ),
    );
  });

  test("name an unknown option and list the valid ones", () => {
    assertDagOptionError({ schedul: "@daily" }, "unknown option 'schedul'", "schedule, timezone, start, end, catchup, tags, description, maxActiveRuns, params, defaults");
  });

  test("wrap an invalid cron with the DAG id and name the field", () => {
    assertDagOptionError({ schedule: "0 25 * * *", start: "2025-01-01" }, "DAG 'dag_opts': invalid cron expression", 'hour field "25"', "0-23");
    assertDagOptionError({ schedule: "0 0 * *", start: "2025-01-01" }, "cron needs 5");
    assertDagOptionError({ schedule: "@fortnightly", start: "2025-01-01" }, 'unknown schedule preset "@fortnightly"');
  });

  test("reject an unknown timezone", () => {
    assertDagOptionError({ timezone: "Europe/Atlantis" }, 'DAG \'dag_opts\': unknown timezone "Europe/Atlantis"');
    assertDagOptionError({ timezone: 3 }, "option timezone must be an IANA timezone name, got 3");
  });

  test("require start when a schedule is set", () => {
    assertDagOptionError({ schedule: "@daily" }, "option start is required when a schedule is set");
    assert.doesNotThrow(() => dag("manual", { schedule: null }, noop));
  });

  test("start and end must be valid dates with start <= end", () => {
    assertDagOptionError({ start: "soon" }, 'option start: invalid date "soon"');
    assertDagOptionError({ end: new Date("nope") }, "option end: the Date is invalid");
    assertDagOptionError({ start: 1735689600000 }, "option start: invalid date");
    assertDagOptionError(
      { start: "2025-02-01", end: "2025-01-01" },
      "option start (2025-02-01T00:00:00.000Z) is after option end (2025-01-01T00:00:00.000Z)",
    );
    assert.doesNotThrow(() => dag("same_day", { start: "2025-01-01", end: "2025-01-01" }, noop));
  });

  test("catchup must be a boolean and maxActiveRuns an integer >= 1", () => {
    assertDagOptionError({ catchup: "yes" }, 'option catchup must be true or false, got "yes"');
    assertDagOptionError({ maxActiveRuns: 0 }, "option maxActiveRuns must be an integer >= 1, got 0");
  });

  test("tags must be strings, description a string, params a plain JSON object", () => {
    assertDagOptionError({ tags: "etl" }, 'option tags must be an array of strings, got "etl"');
    assertDagOptionError({ tags: ["etl", 1] }, "option tags must be an array of strings");
    assertDagOptionError({ description: 5 }, "option description must be a string, got 5");
    assertDagOptionError({ params: [1] }, "option params must be a plain object, got an array");
    assertDagOptionError({ params: new Map() }, "option params must be a plain object, got an object (Map)");
    assertDagOptionError({ params: { big: 1n } }, "option params must be JSON-serializable");
  });

  test("defaults are checked as task options", () => {
    assertDagOptionError({ defaults: { retires: 1 } }, "option defaults: unknown option 'retires'");
    assertDagOptionError({ defaults: { poolSlots: 0 } }, "option defaults: option poolSlots must be an integer >= 1");
    assertDagOptionError({ defaults: "none" }, 'option defaults must be an object of task options, got "none"');
  });

  test("options must be an object", () => {
    assertDagOptionError(undefined, "DAG options must be an object, got undefined");
  });
});
