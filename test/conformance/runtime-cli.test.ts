/**
 * The runtime-data CLI through the real binary, on every dialect: variables, connections (secrets
 * encrypted at rest and masked), params checked at trigger time, rendered templates; the CLI and the
 * engine on the same home share the generated secret key.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, tempDir } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const DAG = `
import { bash, dag, param, task } from "aloft";
dag("cli_dag", { params: { n: param(1, { type: "integer", minimum: 1 }) } }, () => {
  task("read", async (ctx) => ({ v: await ctx.variables.get("from_cli"), host: (await ctx.connections.get("uri_conn")).host }));
  bash("templ", "echo n={{ params.n }} pw={{ conn.uri_conn.password }}", { env: { WHO: "{{ conn.uri_conn.login }}" }, xcomPush: false });
  bash("plain", "echo plain", { env: { A: "b" } });
  const items = task("items", () => ["p", "q"]);
  task("each", (ctx) => { console.log("processing " + String(ctx.item)); }).expand(items);
});
dag("cli_sched", { schedule: "@daily", start: "2025-01-01", params: { n: param(1, { type: "integer", minimum: 1 }) } }, () => {
  task("t", () => 1);
});
`;

for (const dialect of testDialects()) {
  describe(`runtime data CLI (${dialect.dialect})`, { timeout: 180_000 }, () => {
    const h = new Harness(dialect, { "cli.ts": DAG });
    let env: NodeJS.ProcessEnv;
    before(async () => {
      await h.start();
      env = { ALOFT_HOME: h.home, ALOFT_DATABASE_URL: h.config.databaseUrl, ALOFT_SECRET_KEY: "" };
    });
    after(() => h.stop());
    const cli = (...args: string[]) => runCli(args, env);

    test("variables: set, get (text and --json), list, delete; an unknown key is a one-line error with exit 2", async () => {
      assert.equal((await cli("variables", "set", "from_cli", "hi there", "--description", "a greeting")).code, 0);
      const get = await cli("variables", "get", "from_cli");
      assert.equal(get.code, 0, get.stderr);
      assert.equal(get.stdout, "hi there\n");
      assert.deepEqual(JSON.parse((await cli("variables", "get", "from_cli", "--json")).stdout), { key: "from_cli", value: "hi there", description: "a greeting" });
      assert.equal((await cli("variables", "set", "tmp", "1")).code, 0);
      const list = await cli("variables", "list", "--json");
      assert.deepEqual(JSON.parse(list.stdout), [
        { key: "from_cli", description: "a greeting" },
        { key: "tmp", description: null },
      ]);
      assert.equal((await cli("variables", "delete", "tmp")).code, 0);
      const missing = await cli("variables", "get", "tmp");
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, "aloft: variable 'tmp' does not exist: see 'aloft variables list'\n");
      const stored = await h.store.db.selectFrom("variable").select("value").where("key", "=", "from_cli").executeTakeFirstOrThrow();
      assert.doesNotMatch(stored.value, /hi there/);
      const events = await h.store.db.selectFrom("event_log").select(["event", "extra"]).where("event", "like", "variable.%").orderBy("id").execute();
      assert.deepEqual(
        events.map((e) => [e.event, e.extra]),
        [
          ["variable.set", "from_cli"],
          ["variable.set", "tmp"],
          ["variable.delete", "tmp"],
        ],
      );
    });

    test("connections: add from fields or a URI, get masks the password and secret extras, list, delete, bad input exits 2", async () => {
      const add = await cli("connections", "add", "uri_conn", "--conn-uri", "postgresql://etl:p%40ss-w0rd@db.example:5433/sales?sslmode=require&api_token=t0ken-xyz");
      assert.equal(add.code, 0, add.stderr);
      const fields = await cli("connections", "add", "api", "--conn-type", "http", "--host", "api.example", "--port", "443", "--extra", '{"timeout": 30}');
      assert.equal(fields.code, 0, fields.stderr);
      const get = await cli("connections", "get", "uri_conn", "--json");
      assert.equal(get.code, 0, get.stderr);
      assert.deepEqual(JSON.parse(get.stdout), {
        conn_id: "uri_conn",
        conn_type: "postgres",
        host: "db.example",
        port: 5433,
        login: "etl",
        password: "***",
        schema: "sales",
        extra: { sslmode: "require", api_token: "***" },
        description: null,
      });
      const text = await cli("connections", "get", "uri_conn");
      assert.match(text.stdout, /^password: \*\*\*$/m);
      assert.doesNotMatch(text.stdout + get.stdout, /p@ss-w0rd|t0ken-xyz/);
      const list = await cli("connections", "list", "--json");
      assert.deepEqual(
        (JSON.parse(list.stdout) as Array<Record<string, unknown>>).map((c) => [c.conn_id, c.conn_type, c.host, c.port]),
        [
          ["api", "http", "api.example", 443],
          ["uri_conn", "postgres", "db.example", 5433],
        ],
      );
      const row = await h.store.db.selectFrom("connection").selectAll().where("conn_id", "=", "uri_conn").executeTakeFirstOrThrow();
      assert.match(row.password!, /^v1:/);
      assert.doesNotMatch(`${row.password} ${row.extra}`, /p@ss-w0rd|t0ken-xyz|sslmode/);

      const dup = await cli("connections", "add", "api", "--conn-type", "http");
      assert.equal(dup.code, 2);
      assert.match(dup.stderr, /connection 'api' already exists/);
      const noType = await cli("connections", "add", "x", "--host", "h");
      assert.equal(noType.code, 2);
      assert.match(noType.stderr, /needs --conn-type/);
      const badExtra = await cli("connections", "add", "x", "--conn-type", "http", "--extra", "{nope");
      assert.equal(badExtra.code, 2);
      assert.match(badExtra.stderr, /--extra is not valid JSON/);
      assert.equal((await cli("connections", "delete", "api")).code, 0);
      const gone = await cli("connections", "get", "api");
      assert.equal(gone.code, 2);
      assert.match(gone.stderr, /connection 'api' does not exist/);
    });

    test("the secret key: generated once into $ALOFT_HOME/secret_key (0600); another key gives a clear error, never garbage", async () => {
      const file = path.join(h.home, "secret_key");
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const wrong = await runCli(["connections", "get", "uri_conn"], { ...env, ALOFT_SECRET_KEY: "another key" });
      assert.equal(wrong.code, 2);
      assert.equal(
        wrong.stderr,
        "aloft: cannot decrypt connection uri_conn: the secret_key differs from the one it was stored with; set secret_key (ALOFT_SECRET_KEY) to the original key, or store the value again\n",
      );
      const listed = await runCli(["connections", "list", "--json"], { ...env, ALOFT_SECRET_KEY: "another key" });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as Array<{ conn_id: string }>).map((c) => c.conn_id), ["uri_conn"]);
      const shown = await runCli(["config", "show", "--json"], { ALOFT_HOME: tempDir("home"), ALOFT_SECRET_KEY: "top-secret-value" });
      const row = (JSON.parse(shown.stdout) as Array<{ name: string; value: string }>).find((r) => r.name === "secret_key");
      assert.deepEqual(row, { name: "secret_key", value: "***", source: "env" });
    });

    test("a run reads what the CLI stored (same home, same key); tasks render shows the rendered command with secrets masked", async () => {
      const runId = await h.trigger("cli_dag", { runId: "cli_run" });
      const { state, tasks } = await h.waitForRun("cli_dag", runId);
      assert.equal(state, "success", JSON.stringify(tasks));
      const xcom = await h.store.db.selectFrom("xcom").select("value").where("run_id", "=", runId).where("task_id", "=", "read").executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(xcom.value), { v: "hi there", host: "db.example" });
      const render = await cli("tasks", "render", "cli_dag", runId, "templ");
      assert.equal(render.code, 0, render.stderr);
      assert.equal(render.stdout, "command: echo n=1 pw=***\nenv WHO: etl\n");
      assert.match((await h.log("cli_dag", runId, "templ"))!, /\nn=1 pw=\*\*\*\n/);
      const none = await cli("tasks", "render", "cli_dag", runId, "read");
      assert.equal(none.code, 2);
      assert.match(none.stderr, /task 'read' of run 'cli_run' has no rendered templates: only bash tasks have them/);
      const plain = await cli("tasks", "render", "cli_dag", runId, "plain", "--json");
      assert.deepEqual(JSON.parse(plain.stdout), { command: "echo plain", env: { A: "b" } });
    });

    test("mapped tasks: tasks states shows each map index, tasks logs --map-index reads one instance's log", async () => {
      const states = await cli("tasks", "states", "cli_dag", "cli_run", "--json");
      const each = (JSON.parse(states.stdout) as Array<{ task_id: string; map_index: number; state: string }>).filter((r) => r.task_id === "each");
      assert.deepEqual(each.map((r) => [r.map_index, r.state]), [
        [0, "success"],
        [1, "success"],
      ]);
      const log = await cli("tasks", "logs", "cli_dag", "cli_run", "each", "--map-index", "1");
      assert.equal(log.code, 0, log.stderr);
      assert.match(log.stdout, /processing q/);
      assert.doesNotMatch(log.stdout, /processing p/);
      const bad = await cli("tasks", "logs", "cli_dag", "cli_run", "each", "--map-index", "x");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--map-index must be -1 or a map index from 0, got 'x'/);
    });

    test("dags trigger and backfill create: a conf failing a param's schema exits 2 naming the param, and creates no run", async () => {
      const result = await cli("dags", "trigger", "cli_dag", "--conf", '{"n": 0}', "--run-id", "refused");
      assert.equal(result.code, 2);
      assert.equal(result.stderr, "aloft: DAG 'cli_dag': param 'n' must be >= 1, got 0; no run was created\n");
      assert.equal(await h.run("cli_dag", "refused"), undefined);
      const backfill = await cli("backfill", "create", "cli_sched", "--from", "2025-01-01", "--to", "2025-01-02", "--conf", '{"n": 0}', "--detach");
      assert.equal(backfill.code, 2);
      assert.equal(backfill.stderr, "aloft: DAG 'cli_sched': param 'n' must be >= 1, got 0; no run was created\n");
      const backfills = await h.store.db.selectFrom("backfill").select("id").execute();
      assert.deepEqual(backfills, []);
    });
  });
}

describe("runtime data CLI --help", () => {
  test("the new commands have help", async () => {
    for (const command of [["variables"], ["variables", "set"], ["connections"], ["connections", "add"], ["tasks", "render"]]) {
      const result = await runCli([...command, "--help"]);
      assert.equal(result.code, 0, `${command.join(" ")} --help: ${result.stderr}`);
      assert.match(result.stdout, /Usage: aloft/);
    }
  });
});
