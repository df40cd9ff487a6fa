/** Pure logic of task runtime data: encryption at rest, masking, templates and macros, params, expand(). */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { clearRegistry } from "../../src/dag/registry.js";
import { bash, dag, task } from "../../src/dag/builder.js";
import { param, paramProblems, splitParams } from "../../src/dag/params.js";
import { parseConnectionUri } from "../../src/runtime/connections.js";
import { maskSecrets, SecretBox } from "../../src/runtime/secrets.js";
import { checkTemplateSyntax, MACROS, renderTemplates, type TemplateInputs } from "../../src/runtime/templates.js";
import { evaluateRun } from "../../src/scheduler/task-evaluation.js";
import { tempDir } from "../helpers/aloft.js";

describe("secrets at rest", () => {
  test("values round-trip; the ciphertext differs each time and holds no plain text", () => {
    const box = SecretBox.open("k", tempDir("home"));
    const a = box.encrypt("hunter2");
    assert.notEqual(a, box.encrypt("hunter2"));
    assert.doesNotMatch(a, /hunter2/);
    assert.equal(box.decrypt(a, "connection x"), "hunter2");
  });

  test("another key fails with a clear error instead of garbage", () => {
    const home = tempDir("home");
    const stored = SecretBox.open("one", home).encrypt("v");
    assert.throws(() => SecretBox.open("two", home).decrypt(stored, "connection db"), {
      message: /^cannot decrypt connection db: the secret_key differs from the one it was stored with/,
    });
  });

  test("with no secret_key, a key file is generated once (mode 0600) and reused", () => {
    const home = tempDir("home");
    const stored = SecretBox.open("", home).encrypt("v");
    const file = path.join(home, "secret_key");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const key = fs.readFileSync(file, "utf8");
    assert.equal(SecretBox.open("", home).decrypt(stored, "x"), "v");
    assert.equal(fs.readFileSync(file, "utf8"), key);
  });

  test("masking replaces every occurrence of each secret", () => {
    assert.equal(maskSecrets("pw=abc123 again abc123, tok=zzz", ["abc123", "zzz"]), "pw=*** again ***, tok=***");
  });

  test("connection URIs follow Airflow's form", () => {
    assert.deepEqual(parseConnectionUri("c", "postgresql://u%40x:p%2Fw@h.example:5432/db?sslmode=require"), {
      connId: "c",
      connType: "postgres",
      host: "h.example",
      schema: "db",
      login: "u@x",
      password: "p/w",
      port: 5432,
      extra: { sslmode: "require" },
      description: null,
    });
  });
});

describe("templates", () => {
  const inputs: TemplateInputs = {
    dagId: "d",
    taskId: "t",
    runId: "r",
    logicalDate: new Date("2026-03-01T06:30:00Z"),
    dataIntervalStart: new Date("2026-03-01T06:30:00Z"),
    dataIntervalEnd: new Date("2026-03-01T06:30:00Z"),
    tryNumber: 1,
    mapIndex: -1,
    params: { x: 1 },
    conf: {},
  };
  const none = { variable: async () => undefined, connection: async () => undefined };

  test("macros: ds_add and ds_format", () => {
    assert.equal(MACROS.ds_add("2026-03-01", -1), "2026-02-28");
    assert.equal(MACROS.ds_add("2024-02-28", 1), "2024-02-29");
    assert.equal(MACROS.ds_format("2026-03-01", "%Y-%m-%d", "%d/%m/%y"), "01/03/26");
    assert.equal(MACROS.ds_nodash("2026-03-01"), "20260301");
  });

  test("Airflow's names render; ts has Python's isoformat", async () => {
    const out = await renderTemplates("w", { c: "{{ ds }} {{ ts }} {{ ts_nodash }} {{ data_interval_end }} {{ params.x }} {{ ti.try_number }}" }, inputs, none);
    assert.equal(out.c, "2026-03-01 2026-03-01T06:30:00+00:00 20260301T063000 2026-03-01T06:30:00+00:00 1 1");
  });

  test("an undefined name is named in the error; filters such as default still work", async () => {
    await assert.rejects(renderTemplates("DAG 'd', task 't'", { "the command": "echo {{ ds }} {{ params.y }}" }, inputs, none), {
      message: /^DAG 'd', task 't': cannot render the command: 'params\.y' is undefined \(line 1\)/,
    });
    const out = await renderTemplates("w", { c: "{{ params.y | default('z') }}" }, inputs, none);
    assert.equal(out.c, "z");
  });

  test("variables are fetched once each, also when used under a condition", async () => {
    const asked: string[] = [];
    const sources = { variable: async (k: string) => (asked.push(k), k === "flag" ? "1" : "v"), connection: async () => undefined };
    const out = await renderTemplates("w", { c: "{% if var.value.flag == '1' %}{{ var.value.inner }}{% endif %}" }, inputs, sources);
    assert.equal(out.c, "v");
    assert.deepEqual(asked.sort(), ["flag", "inner"]);
  });

  test("syntax errors are found without rendering", () => {
    assert.throws(() => checkTemplateSyntax("DAG 'd', task 't'", "the command", "echo {{ ds "), { message: /^DAG 'd', task 't': the command is not a valid template: / });
    checkTemplateSyntax("w", "c", "echo {{ nope }}");
  });
});

describe("params", () => {
  test("plain values stay plain defaults; param() values give a default and a schema", () => {
    const { defaults, schemas } = splitParams("d", { a: 1, n: param(5, { type: "integer" }), r: param(undefined, { type: "string" }) });
    assert.deepEqual(defaults, { a: 1, n: 5 });
    assert.deepEqual(schemas, { n: { type: "integer" }, r: { type: "string" } });
    assert.deepEqual(paramProblems(schemas, { ...defaults }), ["param 'r' has no default and the run's conf does not set it"]);
    assert.deepEqual(paramProblems(schemas, { ...defaults, r: "x" }), []);
  });

  test("a scheduled DAG cannot have a param without a default", () => {
    clearRegistry();
    assert.throws(() => dag("sched", { schedule: "@daily", start: "2026-01-01", params: { t: param(undefined, { type: "string" }) } }, () => void task("a", () => 1)), {
      message: "DAG 'sched': param 't' has no default, so the DAG cannot have a schedule; give a default or use schedule: null",
    });
    clearRegistry();
  });

  test("an invalid schema or a default failing its schema is a load-time error naming DAG and param", () => {
    assert.throws(() => splitParams("d", { n: param(1, { type: "nonsense" }) }), { message: /^DAG 'd': param 'n' has an invalid schema/ });
    assert.throws(() => splitParams("d", { n: param("x", { enum: ["a", "b"] }) }), {
      message: 'DAG \'d\': param \'n\': the default must be equal to one of the allowed values (["a","b"]), got "x"',
    });
  });
});

describe("expand()", () => {
  test("a mapped task depends on its source and is serialized with it", () => {
    clearRegistry();
    const d = dag("m", {}, () => {
      const s = task("s", () => [1]);
      task("t", () => 1).expand(s);
      bash("b", "echo {{ item }}", { xcomPush: false }).expand(s);
    });
    const tasks = Object.fromEntries(d.serialize("/f.ts").tasks.map((t) => [t.taskId, t]));
    assert.equal(tasks.t!.expandFrom, "s");
    assert.deepEqual(tasks.t!.upstream, ["s"]);
    assert.equal(tasks.b!.xcomPush, false);
    clearRegistry();
  });

  test("expanding twice, over itself, or over a non-task is a load-time error", () => {
    clearRegistry();
    assert.throws(
      () => dag("m2", {}, () => {
        const s = task("s", () => [1]);
        task("t", () => 1).expand(s).expand(s);
      }),
      { message: /^DAG 'm2', task 't': expand\(\) was already called \(over 's'\)/ },
    );
    assert.throws(() => dag("m3", {}, () => void task("t", () => 1).expand("s" as never)), { message: /expand\(\) expects a task/ });
    assert.throws(
      () => dag("m4", {}, () => {
        const t = task("t", () => 1);
        t.expand(t);
      }),
      { message: /cannot expand over its own return value/ },
    );
    clearRegistry();
  });
});

describe("trigger rules over mapped instances", () => {
  clearRegistry();
  const mapped = dag("mapped_eval", {}, () => {
    const s = task("s", () => [1, 2]);
    task("m", () => 1).expand(s).then(task("after", () => 1));
  }).serialize("/f.ts");
  clearRegistry();
  const row = (id: number, taskId: string, state: string | null, mapIndex = -1) => ({
    id,
    task_id: taskId,
    map_index: mapIndex,
    state: state as never,
    next_try_at: null,
  });

  test("a mapped placeholder is expanded, not scheduled, once its source succeeded; downstream waits", () => {
    const e = evaluateRun(mapped, [row(1, "s", "success"), row(2, "m", null), row(3, "after", null)], 0);
    assert.deepEqual(e.toExpand, [{ tiId: 2, taskId: "m", source: "s", sourceMapped: false }]);
    assert.deepEqual([...e.fromNone], []);
  });

  test("downstream counts every instance: it waits for the last one, and one failure fails it", () => {
    const some = evaluateRun(mapped, [row(1, "s", "success"), row(2, "m", "success", 0), row(4, "m", "running", 1), row(3, "after", null)], 0);
    assert.deepEqual([...some.fromNone], []);
    const failed = evaluateRun(mapped, [row(1, "s", "success"), row(2, "m", "success", 0), row(4, "m", "failed", 1), row(3, "after", null)], 0);
    assert.deepEqual([...failed.fromNone], [["upstream_failed", [3]]]);
    const done = evaluateRun(mapped, [row(1, "s", "success"), row(2, "m", "success", 0), row(4, "m", "success", 1), row(3, "after", null)], 0);
    assert.deepEqual([...done.fromNone], [["scheduled", [3]]]);
  });
});
