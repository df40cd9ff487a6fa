import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bash, chain, dag, task } from "../../src/dag/builder.js";
import { clearRegistry, registeredDags } from "../../src/dag/registry.js";
import type { TaskRef } from "../../src/dag/types.js";
import { DagDefinitionError } from "../../src/errors.js";

const noop = () => undefined;
const ids = (tasks: ReadonlySet<TaskRef>) => [...tasks].map((t) => t.taskId);

beforeEach(() => clearRegistry());

describe("dag()", () => {
  test("collects the tasks declared in its build function, in definition order", () => {
    const fn = () => 42;
    const built = dag("etl", { description: "d" }, () => {
      task("extract", fn, { retries: 2 });
      bash("load", "echo load");
    });
    assert.equal(built.dagId, "etl");
    assert.equal(built.options.description, "d");
    assert.deepEqual([...built.tasks.keys()], ["extract", "load"]);
    const extract = built.tasks.get("extract")!;
    assert.equal(extract.kind, "function");
    assert.equal(extract.fn, fn);
    assert.equal(extract.command, undefined);
    assert.equal(extract.dagId, "etl");
    assert.deepEqual(extract.options, { retries: 2 });
    const load = built.tasks.get("load")!;
    assert.equal(load.kind, "bash");
    assert.equal(load.command, "echo load");
    assert.equal(load.fn, undefined);
  });

  test("registers the DAG", () => {
    const built = dag("registered", {}, noop);
    assert.deepEqual(registeredDags(), [built]);
  });

  test("keeps a copy of the options, so later changes to the author's objects have no effect", () => {
    const options = { retries: 1, env: { A: "1" } };
    const dagOptions = { tags: ["a"], defaults: { queue: "q" } };
    const built = dag("copies", dagOptions, () => {
      task("t", noop, options);
    });
    options.retries = 5;
    options.env.A = "2";
    dagOptions.tags.push("b");
    dagOptions.defaults.queue = "other";
    assert.deepEqual(built.tasks.get("t")!.options, { retries: 1, env: { A: "1" } });
    assert.deepEqual(built.options.tags, ["a"]);
    assert.deepEqual(built.options.defaults, { queue: "q" });
  });

  test("puts tasks of a nested dag() in the inner DAG", () => {
    let inner;
    const outer = dag("outer", {}, () => {
      task("before", noop);
      inner = dag("inner", {}, () => {
        task("nested", noop);
      });
      task("after", noop);
    });
    assert.deepEqual([...outer.tasks.keys()], ["before", "after"]);
    assert.deepEqual([...inner!.tasks.keys()], ["nested"]);
  });

  test("rejects a task declared outside a build function", () => {
    assert.throws(() => task("loose", noop), (error: unknown) => {
      assert.ok(error instanceof DagDefinitionError);
      assert.match(error.message, /task "loose" was declared outside a DAG/);
      assert.match(error.message, /dag\(id, options, \(\) => \{ \.\.\. \}\)/);
      return true;
    });
    assert.throws(() => bash("loose", "true"), /task "loose" was declared outside a DAG/);
  });

  test("does not register a DAG whose build throws, and leaves no DAG open", () => {
    assert.throws(
      () =>
        dag("broken", {}, () => {
          task("a", noop);
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.deepEqual(registeredDags(), []);
    assert.throws(() => task("later", noop), /outside a DAG/);
  });

  test("rejects an async build function", () => {
    assert.throws(
      () => dag("async_build", {}, (async () => {}) as () => void),
      /DAG 'async_build': the build function returned a Promise; it must be synchronous/,
    );
    assert.deepEqual(registeredDags(), []);
  });

  test("accepts a build function that returns a task", () => {
    assert.doesNotThrow(() => dag("returns_task", {}, () => bash("a", "true").then(bash("b", "true"))));
  });

  test("task() needs a function and bash() a command", () => {
    assert.throws(
      () => dag("bad_fn", {}, () => void task("t", "echo" as unknown as () => void)),
      /DAG 'bad_fn', task 't': task\(\) needs a function/,
    );
    assert.throws(() => dag("bad_cmd", {}, () => void bash("t", "  ")), /DAG 'bad_cmd', task 't': bash\(\) needs a non-empty command/);
  });
});

describe("dependencies", () => {
  test("a.then(b) makes b wait for a and returns b, so calls chain", () => {
    dag("then_single", {}, () => {
      const [a, b, c] = [bash("a", "true"), bash("b", "true"), bash("c", "true")];
      const returned = a.then(b);
      assert.equal(returned, b);
      b.then(c);
      assert.deepEqual(ids(a.downstream), ["b"]);
      assert.deepEqual(ids(b.upstream), ["a"]);
      assert.deepEqual(ids(c.upstream), ["b"]);
      assert.deepEqual(ids(a.upstream), []);
    });
  });

  test("a.then([b, c]) fans out and returns the same array", () => {
    dag("fan_out", {}, () => {
      const a = bash("a", "true");
      const branches = [bash("b", "true"), bash("c", "true")];
      assert.equal(a.then(branches), branches);
      assert.deepEqual(ids(a.downstream), ["b", "c"]);
      for (const branch of branches) assert.deepEqual(ids(branch.upstream), ["a"]);
    });
  });

  test("d.after([b, c]) fans in and returns d", () => {
    dag("fan_in", {}, () => {
      const [b, c, d] = [bash("b", "true"), bash("c", "true"), bash("d", "true")];
      assert.equal(d.after([b, c]), d);
      assert.deepEqual(ids(d.upstream), ["b", "c"]);
      assert.deepEqual(ids(b.downstream), ["d"]);
      assert.equal(d.after(b), d);
      assert.deepEqual(ids(d.upstream), ["b", "c"], "declaring an edge twice keeps one");
    });
  });

  test("chain() makes every task of an item wait for every task of the previous item", () => {
    dag("chained", {}, () => {
      const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map((id) => bash(id, "true")) as [TaskRef, TaskRef, TaskRef, TaskRef, TaskRef];
      chain(a, [b, c], [d, e]);
      assert.deepEqual(ids(a.downstream), ["b", "c"]);
      assert.deepEqual(ids(d.upstream), ["b", "c"]);
      assert.deepEqual(ids(e.upstream), ["b", "c"]);
      assert.deepEqual(ids(b.downstream), ["d", "e"]);
      assert.deepEqual(ids(a.upstream), []);
    });
  });

  test("arrays do not become thenables", async () => {
    let pair: TaskRef[] = [];
    dag("await_array", {}, () => {
      pair = bash("a", "true").then([bash("b", "true"), bash("c", "true")]);
    });
    assert.equal((Array.prototype as unknown as { then?: unknown }).then, undefined);
    assert.equal(await Promise.resolve(pair), pair);
  });

  test("awaiting a task fails with a clear error instead of hanging", async () => {
    let pending: Promise<unknown> | undefined;
    dag("await_task", {}, () => {
      const a = bash("a", "true");
      pending = (async (): Promise<unknown> => a as unknown)();
    });
    await assert.rejects(pending!, /DAG 'await_task', task 'a': then\(\) expects a task or an array of tasks, got a function; tasks are not promises/);
  });

  test("rejects arguments that are not tasks", () => {
    assert.throws(
      () => dag("not_tasks", {}, () => void bash("a", "true").then("b" as unknown as TaskRef)),
      /DAG 'not_tasks', task 'a': then\(\) expects a task .* got the string "b"/,
    );
    assert.throws(
      () => dag("not_tasks2", {}, () => void bash("a", "true").after([undefined as unknown as TaskRef])),
      /DAG 'not_tasks2', task 'a': after\(\) expects a task .* got undefined/,
    );
    assert.throws(() => dag("not_tasks3", {}, () => chain(bash("a", "true"), [5 as unknown as TaskRef])), /chain\(\) expects a task .* got a number/);
  });

  test("rejects a dependency on a task of another DAG", () => {
    let foreign: TaskRef | undefined;
    dag("first", {}, () => {
      foreign = bash("shared", "true");
    });
    assert.throws(
      () =>
        dag("second", {}, () => {
          bash("local", "true").after(foreign!);
        }),
      (error: unknown) => {
        assert.ok(error instanceof DagDefinitionError);
        assert.match(error.message, /^DAG 'second', task 'local': cannot depend on task 'shared' of another DAG \('first'\)/);
        return true;
      },
    );
    assert.deepEqual(foreign!.downstream.size, 0);
  });

  test("rejects dependencies declared after dag() returned", () => {
    let a: TaskRef | undefined;
    let b: TaskRef | undefined;
    dag("closed", {}, () => {
      a = bash("a", "true");
      b = bash("b", "true");
    });
    assert.throws(() => a!.then(b!), /DAG 'closed', task 'b': the dependency on 'a' was declared after dag\(\) returned/);
    assert.equal(a!.downstream.size, 0);
  });
});
