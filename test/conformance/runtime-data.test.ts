/**
 * Task runtime data on every dialect: XCom, Variables and Connections seen by tasks, params,
 * templates and dynamic task mapping, with the bad-input cases failing only their task or run.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addConnection } from "../../src/runtime/connections.js";
import { SecretBox } from "../../src/runtime/secrets.js";
import { setVariable } from "../../src/runtime/variables.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const DAGS: Record<string, string> = {
  "xcom.ts": `
import { bash, dag, task } from "aloft";
dag("xcom_dag", {}, () => {
  const produce = task("produce", async (ctx) => {
    await ctx.xcom.push("extra", { n: 1 });
    return [1, 2, 3];
  });
  const consume = task("consume", async (ctx) => {
    const rv = await ctx.xcom.pull({ taskId: "produce" });
    const extra = await ctx.xcom.pull({ taskId: "produce", key: "extra" });
    const none = await ctx.xcom.pull({ taskId: "produce", key: "nope" });
    return { rv, extra, none: none === undefined };
  });
  produce.then(consume);
  const shell = bash("shell", "echo first; echo last line");
  bash("quiet", "echo hidden", { xcomPush: false });
  bash("no_newline", "echo x; echo -n y");
  const useXcom = bash("use_xcom", "echo got={{ ti.xcom_pull(task_ids='shell') }} {{ task_instance.xcom_pull('produce') | dump }} {{ ti.xcom_pull('produce', key='extra').n }}");
  useXcom.after([produce, shell]);
  bash("pull_missing", "echo {{ ti.xcom_pull('quiet') }}").after(useXcom);
});
dag("xcom_bad", {}, () => {
  task("pull_unknown", (ctx) => ctx.xcom.pull({ taskId: "nope" }));
  task("too_big", () => "x".repeat(500));
  task("push_too_big", async (ctx) => { await ctx.xcom.push("big", "y".repeat(500)); });
  task("fine", () => "ok");
});
`,
  "secrets.ts": `
import { bash, dag, task } from "aloft";
dag("vars_conns", {}, () => {
  task("read", async (ctx) => {
    const v = await ctx.variables.get("greeting");
    const j = await ctx.variables.get("cfg", undefined, { json: true });
    const d = await ctx.variables.get("missing", "dflt");
    const c = await ctx.connections.get("my_db");
    ctx.log.info("connecting with password " + c.password);
    console.log("printed", c.password);
    return { v, j, d, host: c.host, port: c.port, login: c.login, extra: c.extra };
  });
  task("split_write", async (ctx) => {
    const password = (await ctx.connections.get("my_db")).password!;
    process.stdout.write("before " + password.slice(0, 4));
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.stdout.write(password.slice(4) + " after\\n");
  });
  task("unknown_var", (ctx) => ctx.variables.get("nope"));
  task("unknown_conn", (ctx) => ctx.connections.get("nope"));
  bash("templ", "echo {{ var.value.greeting }} {{ var.json.cfg.a }} {{ var.greeting }} {{ conn.my_db.host }}:{{ conn.my_db.port }} {{ conn.my_db.login }} {{ conn.my_db.password }}", {
    env: { DB_HOST: "{{ conn.my_db.host }}" },
    xcomPush: false,
  });
  bash("templ_missing_var", "echo {{ var.value.nope }}");
  bash("templ_secret_var", "echo token={{ var.value.api_token }}", { xcomPush: false });
});
`,
  "params.ts": `
import { bash, dag, param, task } from "aloft";
dag("params_dag", { params: { n: param(5, { type: "integer", minimum: 1 }), env: param("dev", { enum: ["dev", "prod"] }), plain: "x" } }, () => {
  task("show", (ctx) => ctx.params);
  bash("templ", "echo {{ params.n }} {{ params.env }} {{ ds }} {{ ds_nodash }} {{ macros.ds_add(ds, 1) }} {{ ts }} {{ run_id }} {{ dag.dag_id }} {{ task.task_id }}");
  bash("undefined_name", "echo {{ nope }}");
});
`,
  "bad_param.ts": `
import { dag, param, task } from "aloft";
dag("bad_param", { params: { n: param(0, { type: "integer", minimum: 1 }) } }, () => {
  task("t", () => 1);
});
`,
  "bad_template.ts": `
import { bash, dag } from "aloft";
dag("bad_template", {}, () => {
  bash("t", "echo {{ ds ");
});
`,
  "mapping.ts": `
import { bash, dag, task } from "aloft";
dag("mapping", {}, () => {
  const src = task("src", () => [1, 2, 3]);
  const double = task("double", (ctx) => (ctx.item as number) * 2 + ctx.mapIndex * 100).expand(src);
  const total = task("total", async (ctx) => {
    const values = await ctx.xcom.pull<number[]>({ taskId: "double" });
    const one = await ctx.xcom.pull<number>({ taskId: "double", mapIndex: 1 });
    return { values, one, sum: values!.reduce((a, b) => a + b, 0) };
  });
  double.then(total);
  const words = task("words", () => ["a b", "c"]);
  bash("echo_item", 'echo "item={{ item }} idx={{ map_index }} env=$ALOFT_ITEM"').expand(words);
});
dag("mapping_chain", {}, () => {
  const src = task("src", () => [1, 2]);
  const square = task("square", (ctx) => (ctx.item as number) ** 2).expand(src);
  const plusOne = task("plus_one", (ctx) => (ctx.item as number) + 1).expand(square);
  plusOne.then(task("sum", async (ctx) => (await ctx.xcom.pull<number[]>({ taskId: "plus_one" }))!.reduce((a, b) => a + b, 0)));
});
dag("mapping_empty", {}, () => {
  const src = task("src", () => []);
  task("m", (ctx) => ctx.item).expand(src).then(task("after", () => "ran"));
});
dag("mapping_not_list", {}, () => {
  const src = task("src", () => ({ a: 1 }));
  task("m", (ctx) => ctx.item).expand(src).then(task("after", () => "ran"));
});
dag("mapping_too_long", {}, () => {
  const src = task("src", () => [1, 2, 3, 4, 5, 6]);
  task("m", (ctx) => ctx.item).expand(src);
});
dag("mapping_one_fails", {}, () => {
  const src = task("src", () => [1, 2, 3]);
  const m = task("m", (ctx) => { if (ctx.item === 2) throw new Error("item 2 is bad"); return ctx.item; }).expand(src);
  m.then(task("after_success", () => 1));
  m.then(task("after_all_done", async (ctx) => ctx.xcom.pull({ taskId: "m" }), { triggerRule: "all_done" }));
});
`,
};

const LOGICAL_DATE = Date.parse("2026-01-05T00:00:00Z");

for (const dialect of testDialects()) {
  describe(`runtime data (${dialect.dialect})`, () => {
    const h = new Harness(dialect, DAGS, { xcomMaxBytes: 200, maxMapLength: 5 });
    before(async () => {
      await h.start();
      const box = SecretBox.open(h.config.secretKey, h.home);
      await setVariable(h.store.db, box, "greeting", "hello");
      await setVariable(h.store.db, box, "cfg", JSON.stringify({ a: 1 }));
      await setVariable(h.store.db, box, "api_token", "var-secret-987");
      await addConnection(h.store.db, box, {
        connId: "my_db",
        connType: "postgres",
        host: "db.example",
        schema: "sales",
        login: "etl",
        password: "s3cr3t-pw",
        port: 5432,
        extra: { sslmode: "require", api_token: "tok-123456" },
        description: null,
      });
    });
    after(() => h.stop());


    test("xcom: push and pull by key, return_value by default, bash pushes its last stdout line unless xcomPush is false", async () => {
      const runId = await h.trigger("xcom_dag");
      const { tasks } = await h.waitForRun("xcom_dag", runId);
      for (const id of ["produce", "consume", "shell", "quiet", "no_newline"]) assert.equal(tasks[id], "success", id);
      assert.deepEqual(await h.xcom("xcom_dag", runId, "produce", "extra"), { n: 1 });
      assert.deepEqual(await h.xcom("xcom_dag", runId, "consume"), { rv: [1, 2, 3], extra: { n: 1 }, none: true });
      assert.equal(await h.xcom("xcom_dag", runId, "shell"), "last line");
      assert.equal(await h.xcom("xcom_dag", runId, "quiet"), undefined);
      assert.equal(await h.xcom("xcom_dag", runId, "no_newline"), "y");
    });

    test("templates: ti.xcom_pull reads another task's XCom; a missing one fails the try naming task and key", async () => {
      const runId = await h.trigger("xcom_dag", { runId: "pulls" });
      const { tasks } = await h.waitForRun("xcom_dag", runId);
      assert.equal(tasks.use_xcom, "success");
      assert.equal(await h.xcom("xcom_dag", runId, "use_xcom"), "got=last line [1,2,3] 1");
      assert.equal(tasks.pull_missing, "failed");
      assert.match((await h.log("xcom_dag", runId, "pull_missing"))!, /task 'pull_missing': cannot render the command: ti\.xcom_pull: task 'quiet' has no XCom 'return_value' in this run/);
    });

    test("xcom: an unknown task id and a value over xcom_max_bytes fail only their task, with a clear message, and store nothing", async () => {
      const runId = await h.trigger("xcom_bad");
      const { state, tasks } = await h.waitForRun("xcom_bad", runId);
      assert.equal(state, "failed");
      assert.deepEqual(tasks, { fine: "success", pull_unknown: "failed", push_too_big: "failed", too_big: "failed" });
      assert.match((await h.log("xcom_bad", runId, "pull_unknown"))!, /task "nope" is not in DAG 'xcom_bad'; its tasks are: pull_unknown, too_big, push_too_big, fine/);
      assert.match(
        (await h.log("xcom_bad", runId, "too_big"))!,
        /DAG 'xcom_bad', task 'too_big': XCom 'return_value' is 502 bytes of JSON, over the limit of 200 bytes \(config xcom_max_bytes/,
      );
      assert.match((await h.log("xcom_bad", runId, "push_too_big"))!, /task 'push_too_big': XCom 'big' is 502 bytes of JSON, over the limit of 200 bytes/);
      assert.equal(await h.xcom("xcom_bad", runId, "too_big"), undefined);
      assert.equal(await h.xcom("xcom_bad", runId, "push_too_big", "big"), undefined);
      assert.equal(await h.xcom("xcom_bad", runId, "fine"), "ok");
    });

    test("variables and connections: tasks read them, secrets are masked in the log, unknown names fail the task clearly", async () => {
      const runId = await h.trigger("vars_conns");
      const { tasks } = await h.waitForRun("vars_conns", runId);
      assert.equal(tasks.read, "success");
      assert.deepEqual(await h.xcom("vars_conns", runId, "read"), {
        v: "hello",
        j: { a: 1 },
        d: "dflt",
        host: "db.example",
        port: 5432,
        login: "etl",
        extra: { sslmode: "require", api_token: "tok-123456" },
      });
      const log = (await h.log("vars_conns", runId, "read"))!;
      assert.match(log, /connecting with password \*\*\*/);
      assert.match(log, /printed \*\*\*/);
      assert.doesNotMatch(log, /s3cr3t-pw/);
      assert.equal(tasks.split_write, "success");
      const split = (await h.log("vars_conns", runId, "split_write"))!;
      assert.match(split, /before \*\*\* after/);
      assert.doesNotMatch(split, /s3cr|3t-pw/);
      assert.equal(tasks.unknown_var, "failed");
      assert.match((await h.log("vars_conns", runId, "unknown_var"))!, /DAG 'vars_conns', task 'unknown_var': variable 'nope' does not exist/);
      assert.equal(tasks.unknown_conn, "failed");
      assert.match((await h.log("vars_conns", runId, "unknown_conn"))!, /task 'unknown_conn': connection 'nope' does not exist/);
    });

    test("templates: var.value, var.json, var.x and conn fields render; the stored rendered command masks the password", async () => {
      const runId = await h.trigger("vars_conns");
      const { tasks } = await h.waitForRun("vars_conns", runId);
      assert.equal(tasks.templ, "success");
      const log = (await h.log("vars_conns", runId, "templ"))!;
      assert.match(log, /\nhello 1 hello db\.example:5432 etl \*\*\*\n/);
      assert.doesNotMatch(log, /s3cr3t-pw/);
      const ti = await h.store.db
        .selectFrom("task_instance")
        .select("rendered_fields")
        .where("run_id", "=", runId)
        .where("task_id", "=", "templ")
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(ti.rendered_fields!), {
        command: "echo hello 1 hello db.example:5432 etl ***",
        env: { DB_HOST: "db.example" },
      });
      assert.equal(tasks.templ_secret_var, "success");
      const secretLog = (await h.log("vars_conns", runId, "templ_secret_var"))!;
      assert.match(secretLog, /\ntoken=\*\*\*\n/);
      assert.doesNotMatch(secretLog, /var-secret-987/);
      const rendered = await h.store.db
        .selectFrom("task_instance")
        .select("rendered_fields")
        .where("run_id", "=", runId)
        .where("task_id", "=", "templ_secret_var")
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(rendered.rendered_fields!), { command: "echo token=***", env: {} });
      assert.equal(tasks.templ_missing_var, "failed");
      assert.match(
        (await h.log("vars_conns", runId, "templ_missing_var"))!,
        /DAG 'vars_conns', task 'templ_missing_var': cannot render the command: variable 'nope' does not exist/,
      );
    });

    test("params: defaults merged with conf reach ctx.params and templates; Airflow's date names and macros render", async () => {
      const runId = await h.trigger("params_dag", { conf: { n: 7 }, logicalDate: LOGICAL_DATE, runId: "r1" });
      const { tasks } = await h.waitForRun("params_dag", runId);
      assert.equal(tasks.show, "success");
      assert.deepEqual(await h.xcom("params_dag", runId, "show"), { n: 7, env: "dev", plain: "x" });
      assert.equal(tasks.templ, "success");
      assert.equal(await h.xcom("params_dag", runId, "templ"), "7 dev 2026-01-05 20260105 2026-01-06 2026-01-05T00:00:00+00:00 r1 params_dag templ");
    });

    test("templates: an undefined name fails the try naming it", async () => {
      const runId = await h.trigger("params_dag", { runId: "r2" });
      const { tasks } = await h.waitForRun("params_dag", runId);
      assert.equal(tasks.undefined_name, "failed");
      assert.match((await h.log("params_dag", runId, "undefined_name"))!, /DAG 'params_dag', task 'undefined_name': cannot render the command: 'nope' is undefined/);
    });

    test("params: a conf failing a param's schema is refused at trigger time, naming the param; no run is created", async () => {
      await assert.rejects(h.trigger("params_dag", { conf: { n: 0 }, runId: "bad1" }), /DAG 'params_dag': param 'n' must be >= 1, got 0; no run was created/);
      await assert.rejects(h.trigger("params_dag", { conf: { env: "qa" }, runId: "bad2" }), /param 'env' must be equal to one of the allowed values \(\["dev","prod"\]\), got "qa"/);
      await assert.rejects(h.trigger("params_dag", { conf: { n: "3" }, runId: "bad3" }), /param 'n' must be integer, got "3"/);
      assert.equal(await h.run("params_dag", "bad1"), undefined);
      assert.equal(await h.run("params_dag", "bad2"), undefined);
    });

    test("load-time errors: a default failing its param schema and a template syntax error name the DAG", () => {
      const errors = h.firstParse.importErrors.map((e) => e.message).join("\n");
      assert.match(errors, /DAG 'bad_param': param 'n': the default must be >= 1, got 0/);
      assert.match(errors, /DAG 'bad_template', task 't': the command is not a valid template/);
    });

    test("mapping: one instance per item, ctx.item and ctx.mapIndex, a downstream reduce pulls the list by map index", async () => {
      const runId = await h.trigger("mapping");
      const { state, tasks } = await h.waitForRun("mapping", runId);
      assert.equal(state, "success", JSON.stringify(tasks));
      assert.deepEqual(tasks, {
        "double[0]": "success",
        "double[1]": "success",
        "double[2]": "success",
        "echo_item[0]": "success",
        "echo_item[1]": "success",
        src: "success",
        total: "success",
        words: "success",
      });
      assert.deepEqual(await h.xcom("mapping", runId, "total"), { values: [2, 104, 206], one: 104, sum: 312 });
      assert.equal(await h.xcom("mapping", runId, "echo_item", "return_value", 0), "item=a b idx=0 env=a b");
      assert.equal(await h.xcom("mapping", runId, "echo_item", "return_value", 1), "item=c idx=1 env=c");
      const rendered = await h.store.db
        .selectFrom("task_instance")
        .select("rendered_fields")
        .where("run_id", "=", runId)
        .where("task_id", "=", "echo_item")
        .where("map_index", "=", 1)
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(rendered.rendered_fields!), { command: 'echo "item=c idx=1 env=$ALOFT_ITEM"', env: {} });
    });

    test("mapping: a task mapped over a mapped task gets one instance per upstream instance", async () => {
      const runId = await h.trigger("mapping_chain");
      const { state, tasks } = await h.waitForRun("mapping_chain", runId);
      assert.equal(state, "success", JSON.stringify(tasks));
      assert.deepEqual(Object.keys(tasks), ["plus_one[0]", "plus_one[1]", "square[0]", "square[1]", "src", "sum"]);
      assert.deepEqual([await h.xcom("mapping_chain", runId, "plus_one", "return_value", 0), await h.xcom("mapping_chain", runId, "plus_one", "return_value", 1)], [2, 5]);
      assert.equal(await h.xcom("mapping_chain", runId, "sum"), 7);
    });

    test("mapping: an empty list skips the mapped task (and what follows through all_success)", async () => {
      const runId = await h.trigger("mapping_empty");
      const { state, tasks } = await h.waitForRun("mapping_empty", runId);
      assert.equal(state, "success");
      assert.deepEqual(tasks, { after: "skipped", m: "skipped", src: "success" });
    });

    test("mapping: a value that is not a list fails the mapped task naming DAG, task and the value's type", async () => {
      const runId = await h.trigger("mapping_not_list");
      const { state, tasks } = await h.waitForRun("mapping_not_list", runId);
      assert.equal(state, "failed");
      assert.deepEqual(tasks, { after: "upstream_failed", m: "failed", src: "success" });
      assert.match(
        (await h.log("mapping_not_list", runId, "m"))!,
        /DAG 'mapping_not_list', task 'm': cannot expand: the return value of 'src' must be a list \(array\), got an object/,
      );
    });

    test("mapping: a list longer than max_map_length fails the mapped task with the limit", async () => {
      const runId = await h.trigger("mapping_too_long");
      const { tasks } = await h.waitForRun("mapping_too_long", runId);
      assert.equal(tasks.m, "failed");
      assert.match((await h.log("mapping_too_long", runId, "m"))!, /has 6 items, over the limit of 5 \(config max_map_length/);
    });

    test("mapping: trigger rules downstream count every map index", async () => {
      const runId = await h.trigger("mapping_one_fails");
      const { state, tasks } = await h.waitForRun("mapping_one_fails", runId);
      assert.equal(state, "failed");
      assert.deepEqual(tasks, {
        after_all_done: "success",
        after_success: "upstream_failed",
        "m[0]": "success",
        "m[1]": "failed",
        "m[2]": "success",
        src: "success",
      });
      assert.deepEqual(await h.xcom("mapping_one_fails", runId, "after_all_done"), [1, 3]);
    });
  });
}
