/** The structure API at DAG load time: what it stores, and clear errors naming the DAG and task. */
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { dag, task } from "../../src/dag/builder.js";
import { clearRegistry } from "../../src/dag/registry.js";
import { branch, group, sensor, setup, shortCircuit, teardown } from "../../src/dag/structure.js";
import { DagDefinitionError } from "../../src/errors.js";

const noop = () => undefined;
beforeEach(() => clearRegistry());

const byId = (d: ReturnType<typeof dag>) => new Map(d.serialize("/d.ts").tasks.map((t) => [t.taskId, t]));

describe("structure API", () => {
  test("serializes operators, sensor settings with defaults, setup/teardown and callbacks", () => {
    const tasks = byId(
      dag("s", { onFailure: noop }, () => {
        const s = setup("s", noop);
        const w = sensor("w", () => true, { mode: "reschedule", pokeInterval: "5s", retries: 1 });
        const b = branch("b", () => null, { onSuccess: noop });
        const c = shortCircuit("c", () => true, { ignoreDownstreamTriggerRules: false });
        const t = teardown("t", "echo done", { setups: s });
        s.then(w).then(b).then(c).then(t);
      }),
    );
    assert.deepEqual(tasks.get("w")!.sensor, { mode: "reschedule", pokeIntervalMs: 5_000, timeoutMs: 604_800_000, softFail: false, exponentialBackoff: false, maxWaitMs: null });
    assert.equal(tasks.get("w")!.retries, 1);
    assert.equal(tasks.get("w")!.operator, "sensor");
    assert.equal(tasks.get("b")!.operator, "branch");
    assert.deepEqual(tasks.get("b")!.callbacks, ["onSuccess"]);
    assert.equal(tasks.get("c")!.ignoreDownstreamTriggerRules, false);
    assert.equal(tasks.get("s")!.isSetup, true);
    assert.equal(tasks.get("t")!.isTeardown, true);
    assert.equal(tasks.get("t")!.kind, "bash");
    assert.equal(tasks.get("t")!.triggerRule, "all_done_setup_success");
    assert.deepEqual(tasks.get("t")!.upstream, ["s", "c"]);
  });

  test("a plain task has none of the structure fields", () => {
    const only = byId(dag("p", {}, () => void task("a", noop))).get("a")!;
    for (const key of ["operator", "sensor", "isSetup", "isTeardown", "callbacks", "group", "ignoreDownstreamTriggerRules"]) {
      assert.equal(key in only, false, key);
    }
  });

  test("bad input is rejected at load time with the DAG and task named", () => {
    const cases: Array<[() => void, RegExp]> = [
      [() => sensor("w", () => true, { mode: "wait" as "poke" }), /^DAG 'd', task 'w': option mode must be "poke" or "reschedule", got "wait"/],
      [() => sensor("w", () => true, { pokeInterval: "soon" }), /^DAG 'd', task 'w': option pokeInterval/],
      [() => sensor("w", 42 as unknown as string), /^DAG 'd', task 'w': sensor\(\) needs a function or a non-empty bash command/],
      [() => branch("b", 42 as unknown as () => null), /^DAG 'd', task 'b': branch\(\) needs a function/],
      [() => task("a", noop, { isSetup: true, isTeardown: true }), /^DAG 'd', task 'a': a task cannot be both a setup and a teardown task/],
      [() => teardown("t", noop, { setups: task("x", noop) }), /^DAG 'd', task 't': option setups must list setup tasks \(from setup\(\)\), got x/],
      [() => task("a", noop, { onFailure: "notify" as unknown as () => void }), /^DAG 'd', task 'a': option onFailure must be a function/],
      [() => group("g", noop, { colour: "red" } as object), /group 'g': unknown option 'colour'/],
      [() => group("g", () => void task("a", noop), { defaults: { retries: -1 } }), /^DAG 'd', group 'g': defaults: option retries must be a non-negative integer/],
    ];
    for (const [declare, message] of cases) {
      clearRegistry();
      assert.throws(() => dag("d", {}, declare), (error: Error) => error instanceof DagDefinitionError && message.test(error.message), String(message));
    }
  });

  test("a DAG callback that is not a function is rejected", () => {
    assert.throws(
      () => dag("d", { onSuccess: "x" as unknown as () => void }, noop),
      (error: Error) => /^DAG 'd': option onSuccess must be a function/.test(error.message),
    );
  });

  test("a task and a group may not share an id", () => {
    assert.throws(
      () => dag("d", {}, () => {
        task("g", noop);
        group("g", noop);
      }),
      /DAG 'd', group 'g': a task or group with this id is already defined/,
    );
  });
});
