/**
 * The engine end to end, as users run it: a real `aloft standalone` process per dialect, DAG files in
 * a folder, runs triggered and inspected with the CLI.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore, type Store } from "../../src/store/db.js";
import { concurrency, isAlive, Standalone, tempDir, waitFor, writeDags } from "../helpers/aloft.js";
import { testDialects, type TestDatabase } from "../helpers/dialects.js";

const pidDir = tempDir("pids");

const DAGS: Record<string, string> = {
  "fan.ts": `
    import { chain, dag, task } from "aloft";
    dag("fan", { schedule: null, params: { who: "default" } }, () => {
      const start = task("start", () => 1);
      const middle = ["a", "b", "c"].map((id) => task(id, (ctx) => ({ id, run: ctx.runId, who: ctx.params.who })));
      const join = task("join", () => "joined");
      chain(start, middle, join);
    });
  `,
  "failing.ts": `
    import { dag, task } from "aloft";
    dag("failing", { schedule: null }, () => {
      const boom = task("boom", () => { throw new Error("boom on purpose"); });
      boom.then(task("after_boom", () => "never"));
      task("independent", () => "fine");
    });
  `,
  "retry.ts": `
    import { dag, task } from "aloft";
    dag("retry", { schedule: null }, () => {
      task("flaky", (ctx) => {
        console.log("try", ctx.tryNumber);
        if (ctx.tryNumber === 1) throw new Error("first try fails");
        return "ok on try " + ctx.tryNumber;
      }, { retries: 1, retryDelay: "2s" });
    });
  `,
  "timeout.ts": `
    import { bash, dag, task } from "aloft";
    dag("timeout", { schedule: null }, () => {
      bash("slow_bash", "sleep 300 & echo $! > ${pidDir}/bash-child.pid; wait", { executionTimeout: "2s" });
      task("slow_fn", () => new Promise(() => {}), { executionTimeout: "1s" });
    });
  `,
  "skip.ts": `
    import { bash, dag, task } from "aloft";
    dag("skip", { schedule: null }, () => {
      const skipper = bash("skipper", "echo skipping; exit 99");
      skipper.then(task("downstream", () => "never")).then(bash("further", "echo never"));
      bash("env_check", 'test "$GREETING" = "hi there" && echo "greeting=$GREETING"', { env: { GREETING: "hi there" } });
    });
  `,
  "long.ts": `
    import { bash, dag } from "aloft";
    dag("long", { schedule: null }, () => {
      bash("sleeper", "echo $$ > ${pidDir}/long-bash.pid; sleep 300", { retries: 1, retryDelay: 0 });
    });
  `,
  "serial.ts": `
    import { bash, dag } from "aloft";
    dag("serial", { schedule: null, maxActiveRuns: 1 }, () => { bash("work", "sleep 1"); });
  `,
  "graceful.ts": `
    import { bash, dag } from "aloft";
    dag("graceful", { schedule: null }, () => { bash("finishing", "echo started; sleep 2; echo finished"); });
  `,
  "chatty.ts": `
    import { bash, dag } from "aloft";
    dag("chatty", { schedule: null }, () => { bash("talk", "for i in 1 2 3 4; do echo line $i; sleep 0.5; done"); });
  `,
  "pooled.ts": `
    import { bash, dag } from "aloft";
    dag("pooled", { schedule: null }, () => {
      for (const id of ["p1", "p2", "p3"]) {
        bash(id, 'echo "start $(date +%s%3N)" >> ${pidDir}/pool-marks; sleep 0.3; echo "end $(date +%s%3N)" >> ${pidDir}/pool-marks', { pool: "single" });
      }
    });
  `,
  "syntax_error.ts": `import { dag } from "aloft";\ndag("broken", { schedule: null }, () => { const x = ; });\n`,
  "throws.ts": `import { dag } from "aloft";\nthrow new Error("cannot reach the config service");\n`,
  "loops.ts": `import { dag } from "aloft";\nwhile (true) {}\n`,
  "exits.ts": `process.exit(3);\n`,
  "cycle.ts": `
    import { dag, task } from "aloft";
    dag("cyclic", { schedule: null }, () => {
      const a = task("a", () => 1), b = task("b", () => 2);
      a.then(b); b.then(a);
    });
  `,
};

for (const factory of testDialects()) {
  describe(`standalone on ${factory.dialect}`, { timeout: 240_000 }, () => {
    let db: TestDatabase;
    let aloft: Standalone;
    let store: Store;

    before(async () => {
      db = await factory.create();
      aloft = new Standalone(db.url, writeDags(DAGS), {
        ALOFT_PARSE_TIMEOUT_MS: "4000",
        ALOFT_WARM_RUNNERS: "1",
        ALOFT_SHUTDOWN_GRACE_MS: "6000",
      });
      await aloft.start();
      store = await openStore(db.url, { poolSize: 1 });
    });

    after(async () => {
      await aloft.stop();
      await store.close();
      aloft.cleanup();
      await db.drop();
    });

    test("fan-out / fan-in runs every task and keeps return values", async () => {
      const runId = await aloft.trigger("fan", ["--conf", '{"who": "ops"}']);
      const run = await aloft.waitForRun("fan", runId);
      assert.deepEqual(run, { state: "success", tasks: { start: "success", a: "success", b: "success", c: "success", join: "success" } });
      const xcom = await store.db.selectFrom("xcom").select(["task_id", "value"]).where("run_id", "=", runId).where("task_id", "=", "a").executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(xcom.value), { id: "a", run: runId, who: "ops" });
    });

    test("a failed task fails the run, its all_success downstream is upstream_failed, others still run", async () => {
      const runId = await aloft.trigger("failing");
      const run = await aloft.waitForRun("failing", runId);
      assert.deepEqual(run, { state: "failed", tasks: { boom: "failed", after_boom: "upstream_failed", independent: "success" } });
      const log = await aloft.cli(["tasks", "logs", "failing", runId, "boom"]);
      assert.equal(log.code, 0);
      assert.match(log.stdout, /boom on purpose\n.*at .*failing\.ts:\d+:\d+/);
    });

    test("a retry waits retryDelay and each try keeps its own log", async () => {
      const runId = await aloft.trigger("retry");
      const run = await aloft.waitForRun("retry", runId);
      assert.deepEqual(run.tasks, { flaky: "success" });
      const tries = await store.db.selectFrom("task_try").selectAll().where("run_id", "=", runId).orderBy("try_number").execute();
      assert.deepEqual(tries.map((t) => [t.try_number, t.state]), [[1, "failed"], [2, "success"]]);
      assert.ok(tries[1]!.start_date - tries[0]!.end_date! >= 2000, "second try started before the retry delay");
      const first = await aloft.cli(["tasks", "logs", "retry", runId, "flaky", "--try", "1"]);
      assert.match(first.stdout, /try 1/);
      assert.match(first.stdout, /first try fails/);
      const second = await aloft.cli(["tasks", "logs", "retry", runId, "flaky"]);
      assert.match(second.stdout, /try 2/);
      assert.match(second.stdout, /try ended: success/);
      const missing = await aloft.cli(["tasks", "logs", "retry", runId, "flaky", "--try", "7"]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /no try 7; its tries are 1, 2/);
    });

    test("executionTimeout fails the try and kills its whole process tree", async () => {
      const runId = await aloft.trigger("timeout");
      const run = await aloft.waitForRun("timeout", runId);
      assert.deepEqual(run, { state: "failed", tasks: { slow_bash: "failed", slow_fn: "failed" } });
      const bashChild = Number(fs.readFileSync(path.join(pidDir, "bash-child.pid"), "utf8"));
      await waitFor("the timed-out bash child to be gone", async () => (isAlive(bashChild) ? undefined : true), 10_000);
      const log = await aloft.cli(["tasks", "logs", "timeout", runId, "slow_fn"]);
      assert.match(log.stdout, /execution timeout/);
    });

    test("tasks logs --follow prints a running try's log as it grows and ends with the try", async () => {
      const runId = await aloft.trigger("chatty");
      await waitFor("the chatty task to start", async () => {
        const log = await aloft.cli(["tasks", "logs", "chatty", runId, "talk"]);
        return /line 1/.test(log.stdout) ? true : undefined;
      });
      const followed = await aloft.cli(["tasks", "logs", "chatty", runId, "talk", "--follow"]);
      assert.equal(followed.code, 0, followed.stderr);
      assert.match(followed.stdout, /starting try 1[\s\S]*line 1\nline 2\nline 3\nline 4\n[\s\S]*try ended: success\n$/);
    });

    test("bash exit 99 skips the task and the skip cascades; env reaches the command", async () => {
      const runId = await aloft.trigger("skip");
      const run = await aloft.waitForRun("skip", runId);
      assert.deepEqual(run, {
        state: "success",
        tasks: { skipper: "skipped", downstream: "skipped", further: "skipped", env_check: "success" },
      });
      const log = await aloft.cli(["tasks", "logs", "skip", runId, "env_check"]);
      assert.match(log.stdout, /greeting=hi there/);
    });

    test("DAG files that fail to import are listed with the reason; the good ones are loaded", async () => {
      const errors = await waitFor("all import errors", async () => {
        const rows = await aloft.cliJson<Array<{ filename: string; message: string }>>(["dags", "list-import-errors"]);
        return rows.length === 5 ? rows : undefined;
      });
      const byFile = Object.fromEntries(errors.map((e) => [path.basename(e.filename), e.message]));
      assert.match(byFile["syntax_error.ts"]!, /cannot compile: .*syntax_error\.ts:2:\d+: Unexpected ";"/);
      assert.match(byFile["throws.ts"]!, /Error: cannot reach the config service \(at .*throws\.ts:2:7\)/);
      assert.match(byFile["loops.ts"]!, /timed out after 4000 ms/);
      assert.match(byFile["exits.ts"]!, /exit code 3/);
      assert.match(byFile["cycle.ts"]!, /DAG 'cyclic'.*cycle: a -> b -> a|DAG 'cyclic'.*cycle: b -> a -> b/);
      const dags = await aloft.cliJson<Array<{ dag_id: string }>>(["dags", "list"]);
      assert.deepEqual(dags.map((d) => d.dag_id), ["chatty", "failing", "fan", "graceful", "long", "pooled", "retry", "serial", "skip", "timeout"]);
    });

    test("pause stops new runs from starting; unpause lets them run", async () => {
      assert.equal((await aloft.cli(["dags", "pause", "fan"])).code, 0);
      const runId = await aloft.trigger("fan");
      await new Promise((r) => setTimeout(r, 2500));
      const runs = await aloft.cliJson<Array<{ run_id: string; state: string }>>(["dags", "list-runs", "fan"]);
      assert.equal(runs.find((r) => r.run_id === runId)?.state, "queued");
      assert.equal((await aloft.cli(["dags", "unpause", "fan"])).code, 0);
      assert.equal((await aloft.waitForRun("fan", runId)).state, "success");
    });

    test("tasks of a pool with one slot never run at the same time", async () => {
      await store.db.insertInto("pool").values({ pool: "single", slots: 1, description: "one at a time" }).execute();
      fs.rmSync(path.join(pidDir, "pool-marks"), { force: true });
      const runId = await aloft.trigger("pooled");
      assert.equal((await aloft.waitForRun("pooled", runId)).state, "success");
      const { marks, most } = concurrency(fs.readFileSync(path.join(pidDir, "pool-marks"), "utf8").trim().split("\n"));
      assert.equal(marks, 6);
      assert.ok(most <= 1, "two tasks of the pool ran at once");
    });

    test("maxActiveRuns 1: a second run waits in queued until the first has finished", async () => {
      const first = await aloft.trigger("serial", ["--run-id", "first"]);
      const second = await aloft.trigger("serial", ["--run-id", "second"]);
      assert.equal((await aloft.waitForRun("serial", second)).state, "success");
      const runs = await aloft.cliJson<Array<{ run_id: string; start_date: string; end_date: string }>>(["dags", "list-runs", "serial"]);
      const byId = Object.fromEntries(runs.map((r) => [r.run_id, r]));
      assert.equal(runs.length, 2);
      assert.ok(Date.parse(byId[second]!.start_date) >= Date.parse(byId[first]!.end_date), "the runs overlapped");
    });

    test("kill -9 of standalone mid-try: runners die with it, the try is retried after restart", async () => {
      const runId = await aloft.trigger("long");
      const pidFile = path.join(pidDir, "long-bash.pid");
      fs.rmSync(pidFile, { force: true });
      const bashPid = await waitFor("the long task to start", async () =>
        fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() ? Number(fs.readFileSync(pidFile, "utf8")) : undefined,
      );
      await aloft.stop("SIGKILL");
      await waitFor("the orphaned bash task to die with its runner", async () => (isAlive(bashPid) ? undefined : true), 10_000);
      fs.rmSync(pidFile, { force: true });
      await aloft.start();
      await waitFor("the retry to start", async () => (fs.existsSync(pidFile) ? true : undefined), 30_000);
      const tries = await store.db.selectFrom("task_try").selectAll().where("run_id", "=", runId).orderBy("try_number").execute();
      assert.deepEqual(tries.map((t) => [t.try_number, t.state]), [[1, "failed"], [2, "running"]]);
      const log = await aloft.cli(["tasks", "logs", "long", runId, "sleeper", "--try", "1"]);
      assert.match(log.stdout, /orphaned/);
    });

    test("SIGTERM lets running tries finish within the grace period, then stops the rest", async () => {
      const longRun = (await aloft.cliJson<Array<{ run_id: string }>>(["dags", "list-runs", "long"]))[0]!.run_id;
      const runId = await aloft.trigger("graceful");
      await waitFor("the graceful task to start", async () => {
        const log = await aloft.cli(["tasks", "logs", "graceful", runId, "finishing"]);
        return /started/.test(log.stdout) ? true : undefined;
      });
      const started = Date.now();
      assert.equal(await aloft.stop("SIGTERM"), 0);
      assert.ok(Date.now() - started >= 5000, "did not wait for the grace period while the 300 s task ran");
      assert.deepEqual(await aloft.taskStates("graceful", runId), { finishing: "success" });
      const sleeper = await aloft.cli(["tasks", "logs", "long", longRun, "sleeper", "--try", "2"]);
      assert.match(sleeper.stdout, /executor shut down while the try was running/);
      // Its outcome was written before the store closed: the try is over, not left running.
      const stopped = await store.db.selectFrom("task_try").select(["state", "end_date"]).where("run_id", "=", longRun).where("try_number", "=", 2).executeTakeFirstOrThrow();
      assert.notEqual(stopped.state, "running");
      assert.notEqual(stopped.end_date, null);
    });
  });
}

describe("standalone with its defaults", { timeout: 120_000 }, () => {
  test("the first start creates an admin and shows its generated password once, never in the log; it logs in to the API", async () => {
    const home = tempDir("home");
    const aloft = new Standalone(`sqlite://${path.join(home, "aloft.db")}`, "", {});
    delete aloft.env.ALOFT_DAGS_FOLDER;
    try {
      await aloft.start();
      const shown = await waitFor("the first admin's password", async () => /username 'admin', password '([^']+)'/.exec(aloft.stdout)?.[1]);
      assert.ok(shown.length >= 16);
      assert.ok(!aloft.stderr.includes(shown), "the password is in the log");
      const base = `http://127.0.0.1:${aloft.port}`;
      const login = await fetch(`${base}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: shown }) });
      assert.equal(login.status, 201);
      const { access_token: token } = (await login.json()) as { access_token: string };
      const dags = await fetch(`${base}/api/v2/dags`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(dags.status, 200);
      assert.equal(((await dags.json()) as { total_entries: number }).total_entries, 4);
      assert.equal((await fetch(`${base}/api/v2/dags`)).status, 401);
      // The next start finds a user and creates none.
      await aloft.stop();
      aloft.stdout = "";
      aloft.stderr = "";
      await aloft.start();
      assert.equal((await fetch(`http://127.0.0.1:${aloft.port}/api/v2/version`)).status, 200);
      assert.ok(!aloft.stdout.includes("password"), aloft.stdout);
    } finally {
      await aloft.stop();
      aloft.cleanup();
    }
  });

  test("loads the example DAGs and runs each of them to success", async () => {
    const home = tempDir("home");
    const aloft = new Standalone(`sqlite://${path.join(home, "aloft.db")}`, "", {});
    delete aloft.env.ALOFT_DAGS_FOLDER;
    const startedAt = Date.now();
    try {
      await aloft.start();
      const dags = await aloft.cliJson<Array<{ dag_id: string }>>(["dags", "list"]);
      assert.deepEqual(dags.map((d) => d.dag_id), ["fan_out_fan_in", "hello", "mapping_and_templates", "retries_and_params"]);
      // hello is @hourly with catchup off: one scheduled run, for the latest hour that has begun.
      const hourly = await waitFor("the scheduled run of hello", async () => {
        const runs = await aloft.cliJson<Array<{ run_type: string; logical_date: string }>>(["dags", "list-runs", "hello"]);
        return runs.length > 0 ? runs : undefined;
      });
      const hourStart = (ms: number) => new Date(ms - (ms % 3_600_000)).toISOString();
      const oldest = hourly[hourly.length - 1]!;
      assert.ok(hourly.every((r) => r.run_type === "scheduled"));
      assert.ok([hourStart(startedAt), hourStart(Date.now())].includes(oldest.logical_date), `unexpected ${oldest.logical_date}`);
      const runs = await Promise.all(dags.map(async (d) => [d.dag_id, await aloft.trigger(d.dag_id)] as const));
      for (const [dagId, runId] of runs) assert.equal((await aloft.waitForRun(dagId, runId)).state, "success", dagId);
      assert.equal((await aloft.cli(["dags", "list-import-errors", "--json"])).stdout.trim(), "[]");
    } finally {
      await aloft.stop();
      aloft.cleanup();
    }
  });
});
