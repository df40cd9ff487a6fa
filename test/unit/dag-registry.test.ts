import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dag } from "../../src/dag/builder.js";
import { clearRegistry, registeredDags, takeRegisteredDags } from "../../src/dag/registry.js";

const noop = () => undefined;

beforeEach(() => clearRegistry());

describe("registry", () => {
  test("lists DAGs in registration order", () => {
    const a = dag("a", {}, noop);
    const b = dag("b", {}, noop);
    assert.deepEqual(registeredDags(), [a, b]);
  });

  test("clearRegistry empties it", () => {
    dag("a", {}, noop);
    clearRegistry();
    assert.deepEqual(registeredDags(), []);
  });

  test("takeRegisteredDags returns the DAGs and empties the registry, so the id can be defined again", () => {
    const first = dag("same", {}, noop);
    assert.deepEqual(takeRegisteredDags(), [first]);
    assert.deepEqual(registeredDags(), []);
    const second = dag("same", {}, noop);
    assert.deepEqual(takeRegisteredDags(), [second]);
  });

  test("is shared by every copy of the module through globalThis", async () => {
    // A query string makes the loader evaluate a second, separate copy of the module.
    const copy = (await import(`../../src/dag/registry.js?copy=${Date.now()}`)) as typeof import("../../src/dag/registry.js");
    const built = dag("shared", {}, noop);
    assert.deepEqual(copy.registeredDags(), [built]);
    copy.clearRegistry();
    assert.deepEqual(registeredDags(), []);
  });
});
