/** The CLI's contracts and its answers to bad input: one clear line, exit code 2, nothing stored changed. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { BIN, concurrency, descendants, isAlive, ROOT, runCli, tempDir, waitFor, writeDags } from "../helpers/aloft.js";
import { testDialects, type TestDatabase } from "../helpers/dialects.js";

const EXAMPLES = path.join(ROOT, "examples/dags");

describe("aloft dags test", { timeout: 120_000 }, () => {
  for (const file of fs.readdirSync(EXAMPLES)) {
    test(`runs the example ${file} to success and prints the JSON contract`, async () => {
      const result = await runCli(["dags", "test", path.join(EXAMPLES, file), "--json"]);
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(out), ["dag_id", "run_id", "state", "tasks"]);
      assert.equal(out.state, "success");
      assert.match(String(out.run_id), /^manual__/);
    });
  }

  test("a failing DAG prints state failed and exits 1", async () => {
    const dags = writeDags({
      "f.ts": `import { dag, task } from "aloft";
        dag("f", { schedule: null }, () => { task("a", () => { throw new Error("x"); }).then(task("b", () => 1)); });`,
    });
    const result = await runCli(["dags", "test", path.join(dags, "f.ts"), "--json", "--logical-date", "2025-03-01T00:00:00Z"]);
    assert.equal(result.code, 1);
    assert.deepEqual(JSON.parse(result.stdout), {
      dag_id: "f",
      run_id: "manual__2025-03-01T00:00:00.000Z",
      state: "failed",
      tasks: { a: "failed", b: "upstream_failed" },
    });
  });

  test("conf reaches the tasks' params", async () => {
    const dags = writeDags({
      "p.ts": `import { dag, task } from "aloft";
        dag("p", { schedule: null, params: { n: 1 } }, () => {
          task("check", (ctx) => { if (ctx.params.n !== 5) throw new Error("n is " + ctx.params.n); });
        });`,
    });
    const ok = await runCli(["dags", "test", path.join(dags, "p.ts"), "--json", "--conf", '{"n": 5}']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const failed = await runCli(["dags", "test", path.join(dags, "p.ts"), "--json"]);
    assert.equal(failed.code, 1);
  });

  test("bad input exits 2 with one line naming the problem", async () => {
    const dags = writeDags({
      "syntax.ts": `import { dag } from "aloft";\ndag("s", {}, () => { let = ; });`,
      "two.ts": `import { dag, task } from "aloft";
        dag("one", {}, () => { task("t", () => 1); });
        dag("two", {}, () => { task("t", () => 1); });`,
      "badrule.ts": `import { dag, task } from "aloft";
        dag("badrule", {}, () => { task("t", () => 1, { triggerRule: "all_sucess" as never }); });`,
    });
    const cases: Array<[string[], RegExp]> = [
      [["dags", "test", path.join(dags, "missing.ts")], /DAG file .*missing\.ts does not exist/],
      [["dags", "test", path.join(dags, "syntax.ts")], /syntax\.ts failed to import: cannot compile/],
      [["dags", "test", path.join(dags, "two.ts")], /several DAGs \(one, two\): choose one with --dag ID/],
      [["dags", "test", path.join(dags, "two.ts"), "--dag", "three"], /defines no DAG 'three'/],
      [["dags", "test", path.join(dags, "two.ts"), "--dag", "one", "--conf", "{nope"], /--conf is not valid JSON/],
      [["dags", "test", path.join(dags, "badrule.ts")], /DAG 'badrule', task 't'.*trigger rule.*all_success/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split("\n").length, 1, `more than one line: ${result.stderr}`);
    }
  });
});

describe("database URLs", () => {
  test("an unreachable or unknown database is one clear line and exit 2", async () => {
    const cases: Array<[string, RegExp]> = [
      ["postgres://u:secret@127.0.0.1:1/x", /cannot use the metadata database postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: .*ECONNREFUSED.*Check ALOFT_DATABASE_URL/],
      ["mysql://root@127.0.0.1:1/x", /cannot use the metadata database mysql:\/\/root@127\.0\.0\.1:1\/x: .*ECONNREFUSED/],
      ["oracle://x", /unknown scheme/],
    ];
    for (const [url, message] of cases) {
      const result = await runCli(["dags", "list"], { ALOFT_DATABASE_URL: url, ALOFT_HOME: tempDir("home") });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /secret/);
    }
  });

  test("standalone with a missing DAGs folder stops with exit 2", async () => {
    const home = tempDir("home");
    const result = await runCli(["standalone", "--dags", path.join(home, "nope"), "--port", "0"], { ALOFT_HOME: home });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /DAGs folder .*nope does not exist: pass --dags DIR/);
  });
});

for (const factory of testDialects()) {
  describe(`CLI on ${factory.dialect}`, { timeout: 120_000 }, () => {
    let db: TestDatabase;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      db = await factory.create();
      env = { ALOFT_DATABASE_URL: db.url, ALOFT_HOME: tempDir("home") };
    });
    after(() => db.drop());

    test("commands on an empty database ask for 'aloft db migrate'; migrate is idempotent", async () => {
      const before = await runCli(["dags", "list"], env);
      assert.equal(before.code, 2);
      assert.match(before.stderr, /run 'aloft db migrate' first/);
      const first = await runCli(["db", "migrate"], env);
      assert.equal(first.code, 0, first.stderr);
      // Every migration applies on an empty database (their number grows as features add tables).
      assert.match(first.stdout, /applied [1-9]\d* migration\(s\)/);
      const second = await runCli(["db", "migrate"], env);
      assert.equal(second.code, 0);
      assert.match(second.stdout, /is up to date/);
      const list = await runCli(["dags", "list", "--json"], env);
      assert.deepEqual(JSON.parse(list.stdout), []);
    });

    test("unknown ids and bad flags exit 2 and store nothing", async () => {
      const cases: Array<[string[], RegExp]> = [
        [["dags", "trigger", "nope"], /DAG 'nope' does not exist/],
        [["dags", "pause", "nope"], /DAG 'nope' does not exist/],
        [["dags", "list-runs", "nope"], /DAG 'nope' does not exist/],
        [["tasks", "states", "nope", "run"], /DAG 'nope' has no run 'run'/],
        [["tasks", "logs", "nope", "run", "t"], /no try of task 't'/],
        [["dags", "trigger", "nope", "--conf", "[1]"], /--conf must be a JSON object/],
        [["dags", "trigger", "nope", "--logical-date", "yesterday"], /--logical-date 'yesterday' is not an ISO 8601 date/],
        [["dags", "frobnicate"], /unknown command 'frobnicate'/],
      ];
      for (const [args, message] of cases) {
        const result = await runCli(args, env);
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, message);
      }
      const events = await runCli(["dags", "list", "--json"], env);
      assert.deepEqual(JSON.parse(events.stdout), []);
    });
  });
}

describe("aloft config show", () => {
  test("flags win over env, env over the config file, the file over defaults; secrets are masked", async () => {
    const home = tempDir("home");
    fs.writeFileSync(path.join(home, "aloft.toml"), 'parallelism = 7\nport = 9000\nlog_level = "debug"\n');
    const result = await runCli(["config", "show", "--json", "--database-url", "postgres://me:hunter2@db:5432/aloft"], {
      ALOFT_HOME: home,
      ALOFT_PORT: "9100",
      ALOFT_DATABASE_URL: "sqlite:///ignored.db",
    });
    assert.equal(result.code, 0, result.stderr);
    const rows = Object.fromEntries((JSON.parse(result.stdout) as Array<{ name: string; value: string; source: string }>).map((r) => [r.name, r]));
    assert.deepEqual(rows.database_url, { name: "database_url", value: "postgres://me:***@db:5432/aloft", source: "flag" });
    assert.deepEqual(rows.port, { name: "port", value: "9100", source: "env" });
    assert.deepEqual(rows.parallelism, { name: "parallelism", value: "7", source: "file" });
    assert.deepEqual(rows.warm_runners, { name: "warm_runners", value: "2", source: "default" });
    assert.doesNotMatch(result.stdout, /hunter2/);
  });

  test("a bad config file is named with the problem", async () => {
    const home = tempDir("home");
    fs.writeFileSync(path.join(home, "aloft.toml"), "paralelism = 7\n");
    const typo = await runCli(["config", "show"], { ALOFT_HOME: home });
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /aloft\.toml: unknown setting 'paralelism'; valid settings: .*parallelism/);
    fs.writeFileSync(path.join(home, "aloft.toml"), "parallelism = lots\n");
    const bad = await runCli(["config", "show"], { ALOFT_HOME: home });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /aloft\.toml is not valid TOML/);
  });
});

describe("--help", () => {
  test("every command has help and exits 0", async () => {
    const commands = [
      [], ["standalone"], ["db"], ["db", "migrate"], ["dags"], ["dags", "list"], ["dags", "trigger"], ["dags", "pause"],
      ["dags", "unpause"], ["dags", "list-runs"], ["dags", "list-import-errors"], ["dags", "test"], ["tasks"],
      ["tasks", "states"], ["tasks", "logs"], ["config"], ["config", "show"],
    ];
    for (const command of commands) {
      const result = await runCli([...command, "--help"]);
      assert.equal(result.code, 0, `${command.join(" ")} --help: ${result.stderr}`);
      assert.match(result.stdout, /Usage: aloft/);
    }
  });
});

describe("parallelism", () => {
  test("no more tries run at once than ALOFT_PARALLELISM", async () => {
    const marks = tempDir("marks");
    const dags = writeDags({
      "wide.ts": `import { bash, dag } from "aloft";
        dag("wide", {}, () => {
          for (let i = 0; i < 6; i++) {
            bash("t" + i, 'echo "start $(date +%s%3N)" >> ${marks}/$ALOFT_TASK_ID; sleep 0.4; echo "end $(date +%s%3N)" >> ${marks}/$ALOFT_TASK_ID');
          }
        });`,
    });
    const result = await runCli(["dags", "test", path.join(dags, "wide.ts"), "--json"], { ALOFT_PARALLELISM: "2" });
    assert.equal(result.code, 0, result.stderr);
    const lines = fs.readdirSync(marks).flatMap((file) => fs.readFileSync(path.join(marks, file), "utf8").trim().split("\n"));
    const { marks: count, most } = concurrency(lines);
    assert.equal(count, 12);
    assert.equal(most, 2);
  });
});

describe("kill -9 of aloft", { timeout: 60_000 }, () => {
  const dags = writeDags({
    "loops_at_import.ts": `import { dag } from "aloft";\nwhile (true) {}\n`,
    "spins.ts": `import { bash, dag, task } from "aloft";
      dag("spins", {}, () => {
        task("spin", () => { while (true) {} });
        bash("sleep", "sleep 300");
      });`,
  });

  for (const [what, file, expected] of [
    ["a DAG file stuck in a loop at import", "loops_at_import.ts", 1],
    ["a task stuck in a loop and a bash command", "spins.ts", 3],
  ] as const) {
    test(`leaves no process behind: ${what}`, async () => {
      const cli = spawn(process.execPath, [BIN, "dags", "test", path.join(dags, file)], {
        env: { ...process.env, ALOFT_PARSE_TIMEOUT_MS: "60000" },
        stdio: "ignore",
      });
      // Wait until the stuck processes are there (parser; or runners and bash), then kill aloft hard.
      const stuck = await waitFor(`${what} to be running`, async () => {
        const pids = descendants(cli.pid!);
        return pids.length >= expected ? pids : undefined;
      });
      await new Promise((r) => setTimeout(r, 500));
      const all = descendants(cli.pid!);
      cli.kill("SIGKILL");
      await waitFor("every process aloft started to be gone", async () => (all.some(isAlive) ? undefined : true), 10_000);
      assert.ok(stuck.length >= expected);
    });
  }
});

describe("priority weight", () => {
  test("with one slot, the task of higher priority weight runs first", async () => {
    const marks = tempDir("order");
    const dags = writeDags({
      "prio.ts": `import { bash, dag } from "aloft";
        dag("prio", {}, () => {
          for (const [id, weight] of [["low", 1], ["high", 10], ["mid", 5]] as const) {
            bash(id, "echo $ALOFT_TASK_ID >> ${marks}/order", { priorityWeight: weight });
          }
        });`,
    });
    const result = await runCli(["dags", "test", path.join(dags, "prio.ts"), "--json"], { ALOFT_PARALLELISM: "1" });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fs.readFileSync(path.join(marks, "order"), "utf8").trim().split("\n"), ["high", "mid", "low"]);
  });
});
