/**
 * The executor contract, run against each broker: a scheduler sends tries through Redis or RabbitMQ
 * to `aloft worker` processes on PostgreSQL or MariaDB. Real servers and real processes: workers are
 * killed with SIGKILL, stopped with SIGTERM, and the broker server is restarted mid-run.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Queue } from "bullmq";
import amqplib from "amqplib";
import { openStore, type Store } from "../../src/store/db.js";
import { Standalone, tempDir, waitFor, writeDags } from "../helpers/aloft.js";
import { testBrokers, WorkerProcess, type TestBroker } from "../helpers/brokers.js";
import { testDialects, type TestDatabase } from "../helpers/dialects.js";

const brokers = testBrokers();
const dialects = testDialects().filter((d) => d.dialect !== "sqlite");
if (brokers.length === 0 || dialects.length === 0) {
  test("broker suites", { skip: "set ALOFT_TEST_REDIS_URL / ALOFT_TEST_AMQP_URL and a server database URL to run them" }, () => {});
}

/** Fast heartbeats so that a dead worker is noticed within seconds. */
const SECRET = "the same secret on every node";
const TIMINGS = {
  ALOFT_WORKER_HEARTBEAT_MS: "300",
  ALOFT_WORKER_TIMEOUT_MS: "3000",
  ALOFT_BROKER_RESEND_MS: "3000",
  ALOFT_WARM_RUNNERS: "1",
};

/** A DAG whose second task says which version of the file it came from. */
function versionedDag(queue: string, effects: string, version: string): string {
  return `
import { bash, dag } from "aloft";
dag("versioned", { schedule: null }, () => {
  bash("first", "sleep 3", { queue: "${queue}" }).then(bash("second", "echo ${version} >> ${effects}", { queue: "${queue}" }));
});
`;
}

function dags(q: Record<"a" | "b" | "long" | "chain" | "dup" | "grace" | "ver", string>, effects: string): Record<string, string> {
  const mark = (what: string) => `echo ${what} >> ${effects}`;
  return {
    "brokered.ts": `
import { appendFileSync } from "node:fs";
import { bash, dag } from "aloft";
dag("routed", { schedule: null }, () => {
  bash("on_a", "${mark("on_a")}", { queue: "${q.a}" }).then(bash("on_b", "${mark("on_b")}", { queue: "${q.b}" }));
});
dag("long", { schedule: null }, () => {
  bash("slow", "${mark("slow_start")}; sleep 6; ${mark("slow_done")}", {
    queue: "${q.long}",
    retries: 1,
    retryDelay: "0s",
    onRetry: (ctx) => appendFileSync("${effects}", "retry_callback " + ctx.tryNumber + "\\n"),
  });
});
dag("chain", { schedule: null }, () => {
  let previous = bash("c0", "sleep 0.4; ${mark("c0")}", { queue: "${q.chain}" });
  for (let i = 1; i < 8; i++) {
    const next = bash("c" + i, "sleep 0.4; echo c" + i + " >> ${effects}", { queue: "${q.chain}" });
    previous.then(next);
    previous = next;
  }
});
dag("dup", { schedule: null }, () => {
  bash("once", "${mark("once")}", { queue: "${q.dup}" });
});
dag("graceful", { schedule: null }, () => {
  bash("quick", "sleep 1; ${mark("quick")}", { queue: "${q.grace}" });
  bash("lengthy", "sleep 8; ${mark("lengthy")}", { queue: "${q.grace}" });
});
`,
    "versioned.ts": versionedDag(q.ver, effects, "v1"),
  };
}

interface TryRow {
  task_id: string;
  try_number: number;
  state: string;
  worker: string | null;
}

for (const broker of brokers) {
  for (const factory of dialects) {
    describe(`workers over ${broker.name} on ${factory.dialect}`, { timeout: 300_000 }, () => {
      const id = crypto.randomBytes(3).toString("hex");
      // Queues of their own, so that nothing left in a shared broker by another suite reaches these workers.
      const q = { a: `a-${id}`, b: `b-${id}`, long: `long-${id}`, chain: `chain-${id}`, dup: `dup-${id}`, grace: `grace-${id}`, ver: `ver-${id}` };
      const effects = path.join(tempDir("effects"), "marks.txt");
      let db: TestDatabase;
      let aloft: Standalone;
      let dagsFolder: string;
      let store: Store;
      const workers: WorkerProcess[] = [];

      const worker = async (name: string, queues: string[], env: NodeJS.ProcessEnv = {}) => {
        // A home of its own and no DAG folder: the worker reaches DAG code only through the DB.
        const workerEnv = { ALOFT_DATABASE_URL: db.url, ALOFT_EXECUTOR: broker.url, ALOFT_HOME: tempDir("worker-home"), ALOFT_SECRET_KEY: SECRET };
        const w = new WorkerProcess(`${name}-${id}`, queues, { ...workerEnv, ...TIMINGS, ...env });
        workers.push(w);
        await w.start();
        return w;
      };
      const marks = () => (fs.existsSync(effects) ? fs.readFileSync(effects, "utf8").split("\n").filter(Boolean) : []);
      const count = (mark: string) => marks().filter((m) => m === mark).length;
      const tries = async (dagId: string, runId: string): Promise<TryRow[]> =>
        (await store.db
          .selectFrom("task_try")
          .select(["task_id", "try_number", "state", "worker"])
          .where("dag_id", "=", dagId)
          .where("run_id", "=", runId)
          .orderBy("task_id")
          .orderBy("try_number")
          .execute()) as TryRow[];
      const runningOn = (dagId: string, runId: string, taskId: string) =>
        waitFor(`${taskId} to run`, async () => {
          const row = await store.db
            .selectFrom("task_instance")
            .select(["worker", "state"])
            .where("dag_id", "=", dagId)
            .where("run_id", "=", runId)
            .where("task_id", "=", taskId)
            .executeTakeFirst();
          return row?.state === "running" && row.worker ? row.worker : undefined;
        });

      before(async () => {
        db = await factory.create();
        dagsFolder = writeDags(dags(q, effects));
        aloft = new Standalone(db.url, dagsFolder, { ...TIMINGS, ALOFT_EXECUTOR: broker.url, ALOFT_SECRET_KEY: SECRET });
        await aloft.start();
        store = await openStore(db.url, { poolSize: 1 });
      });

      after(async () => {
        await Promise.all(workers.map((w) => w.stop()));
        await aloft.stop();
        await store.close();
        aloft.cleanup();
        await db.drop();
      });

      test("tasks are routed by queue to the workers that serve it", async () => {
        const wa = await worker("wa", [q.a]);
        const wb = await worker("wb", [q.b]);
        const runId = await aloft.trigger("routed");
        assert.deepEqual(await aloft.waitForRun("routed", runId), { state: "success", tasks: { on_a: "success", on_b: "success" } });
        assert.deepEqual(
          (await tries("routed", runId)).map((t) => [t.task_id, t.try_number, t.state, t.worker]),
          [
            ["on_a", 1, "success", wa.name],
            ["on_b", 1, "success", wb.name],
          ],
        );
        const listed = await aloft.cliJson<{ workers: Array<{ name: string; state: string; queues: string; done: number }>; queues: Array<{ queue: string; workers: number }> }>(["workers", "list"]);
        await waitFor("the workers' counters to be reported", async () => {
          const now = await aloft.cliJson<typeof listed>(["workers", "list"]);
          const a = now.workers.find((w) => w.name === wa.name);
          return a && a.done >= 1 ? true : undefined;
        });
        assert.equal(listed.workers.find((w) => w.name === wa.name)?.queues, q.a);
        assert.equal(listed.workers.find((w) => w.name === wb.name)?.state, "running");
        assert.equal(listed.queues.find((x) => x.queue === q.a)?.workers, 1);
        await wa.stop();
        await wb.stop();
      });

      test("a worker killed with SIGKILL mid-try: the try is retried on the other worker, one success recorded", async () => {
        const w1 = await worker("k1", [q.long]);
        const w2 = await worker("k2", [q.long]);
        const runId = await aloft.trigger("long");
        const holder = await runningOn("long", runId, "slow");
        const [victim, survivor] = holder === w1.name ? [w1, w2] : [w2, w1];
        victim.signal("SIGKILL");
        const run = await aloft.waitForRun("long", runId, 60_000);
        assert.deepEqual(run, { state: "success", tasks: { slow: "success" } });
        assert.deepEqual(
          (await tries("long", runId)).map((t) => [t.try_number, t.state, t.worker]),
          [
            [1, "failed", victim.name],
            [2, "success", survivor.name],
          ],
        );
        assert.equal(count("slow_done"), 1, `the killed try's process tree died with its worker: ${marks().join(", ")}`);
        await waitFor("the lost try's onRetry callback", async () => (count("retry_callback 1") === 1 ? true : undefined));
        const log = await aloft.cli(["tasks", "logs", "long", runId, "slow", "--try", "1"]);
        assert.match(log.stdout, new RegExp(`worker ${victim.name} .* stopped heartbeating`));
        const listed = await aloft.cliJson<{ workers: Array<{ name: string; state: string; reason?: string }> }>(["workers", "list"]);
        assert.equal(listed.workers.find((w) => w.name === victim.name)?.state, "dead");
        await survivor.stop();
      });

      test(`${broker.name} restarted mid-run: the run completes and no task runs twice`, async () => {
        const w = await worker("r1", [q.chain]);
        const runId = await aloft.trigger("chain");
        await waitFor("the chain to be under way", async () => (count("c2") === 1 ? true : undefined), 60_000);
        await broker.restart();
        const run = await aloft.waitForRun("chain", runId, 120_000);
        assert.equal(run.state, "success");
        for (let i = 0; i < 8; i++) assert.equal(count(`c${i}`), 1, `c${i} ran once`);
        // The worker said so when it lost the broker and when it was back.
        assert.match(w.stderr, /"msg":"(Redis|RabbitMQ) connection lost; reconnecting"/);
        assert.match(w.stderr, /"msg":"(Redis|RabbitMQ) connection restored"/);
        assert.ok((await tries("chain", runId)).every((t) => t.try_number === 1 && t.state === "success"));
      });

      test("a try delivered twice runs once", async () => {
        const runId = await aloft.trigger("dup");
        await waitFor("the try to be queued", async () => {
          const row = await store.db.selectFrom("task_instance").select("state").where("run_id", "=", runId).where("dag_id", "=", "dup").executeTakeFirst();
          return row?.state === "queued" ? true : undefined;
        });
        await deliverAgain(broker, q.dup);
        const w = await worker("d1", [q.dup]);
        assert.equal((await aloft.waitForRun("dup", runId)).state, "success");
        await waitFor("the second delivery to be dropped", async () => (w.stderr.includes("repeated delivery") ? true : undefined));
        assert.equal(count("once"), 1);
        assert.deepEqual((await tries("dup", runId)).map((t) => [t.try_number, t.state]), [[1, "success"]]);
      });

      test("SIGTERM: running tries finish within the grace period, the rest are handed back without using a retry", async () => {
        const w1 = await worker("g1", [q.grace], { ALOFT_SHUTDOWN_GRACE_MS: "2500" });
        const runId = await aloft.trigger("graceful");
        await runningOn("graceful", runId, "quick");
        await runningOn("graceful", runId, "lengthy");
        w1.signal("SIGTERM");
        assert.equal(await w1.waitForExit(), 0);
        const w2 = await worker("g2", [q.grace]);
        const run = await aloft.waitForRun("graceful", runId, 60_000);
        assert.deepEqual(run, { state: "success", tasks: { lengthy: "success", quick: "success" } });
        assert.deepEqual(
          (await tries("graceful", runId)).map((t) => [t.task_id, t.try_number, t.state, t.worker]),
          [
            ["lengthy", 1, "restarting", w1.name],
            ["lengthy", 2, "success", w2.name],
            ["quick", 1, "success", w1.name],
          ],
        );
        const log = await aloft.cli(["tasks", "logs", "graceful", runId, "lengthy", "--try", "1"]);
        assert.match(log.stdout, /handed back: worker .* is shutting down/);
        const listed = await aloft.cliJson<{ workers: Array<{ name: string; state: string }> }>(["workers", "list"]);
        assert.equal(listed.workers.find((w) => w.name === w1.name)?.state, "stopped");
      });

      test("a bundle deployed during a run: the run finishes on its old version, the next run uses the new one", async () => {
        await worker("v1", [q.ver]);
        const runId = await aloft.trigger("versioned");
        await runningOn("versioned", runId, "first");
        fs.writeFileSync(path.join(dagsFolder, "versioned.ts"), versionedDag(q.ver, effects, "v2"));
        const deployed = await aloft.cli(["deploy", dagsFolder, "--message", "second version", "--json"]);
        assert.equal(deployed.code, 0, deployed.stderr);
        assert.equal((await aloft.waitForRun("versioned", runId, 60_000)).state, "success");
        assert.deepEqual(marks().filter((m) => m.startsWith("v")), ["v1"]);
        const next = await aloft.trigger("versioned");
        assert.equal((await aloft.waitForRun("versioned", next, 60_000)).state, "success");
        assert.deepEqual(marks().filter((m) => m.startsWith("v")), ["v1", "v2"]);
      });
    });
  }
}

/** Copies the message waiting in `queue`, as a broker does when it delivers a message again. */
async function deliverAgain(broker: TestBroker, queue: string): Promise<void> {
  if (broker.name === "redis") {
    const bull = new Queue(queue, { connection: { url: broker.url }, prefix: "aloft" });
    const jobs = await waitFor("the try's job", async () => {
      const waiting = await bull.getJobs(["waiting"]);
      return waiting.length > 0 ? waiting : undefined;
    });
    await bull.add("try", jobs[0]!.data, { jobId: `${jobs[0]!.id}-again` });
    await bull.close();
    return;
  }
  const connection = await amqplib.connect(broker.url);
  const channel = await connection.createChannel();
  const message = await waitFor("the try's message", async () => (await channel.get(`aloft.${queue}`)) || undefined);
  channel.sendToQueue(`aloft.${queue}`, message.content, { persistent: true });
  channel.sendToQueue(`aloft.${queue}`, message.content, { persistent: true });
  channel.ack(message);
  await channel.close();
  await connection.close();
}
