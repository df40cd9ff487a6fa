/**
 * The controller's duties beyond the failover scenarios, with real processes on PostgreSQL and
 * MariaDB: `aloft controller -- CMD` for any singleton command, health checks of a generic command,
 * a hung scheduling child (live pid, no heartbeat), giving up after failed restarts, hooks (command
 * and webhook), and usage errors.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { runCli, tempDir, waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { HA_TIMINGS, HaCluster, leaderThenStandbys, runningChildren, withCluster } from "../helpers/ha.js";

const dialects = testDialects().filter((d) => d.dialect !== "sqlite");

/** A singleton command that records each start (node, epoch, pid) and then runs until stopped. */
function recordingCommand(file: string, extra = ""): string[] {
  return ["bash", "-c", `${extra}echo "$ALOFT_HA_NODE $ALOFT_HA_EPOCH $$" >> ${file}; exec sleep 1000`];
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

/** Whether the process exists and has not exited (a zombie waiting for this container's pid 1 to reap it has). */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

for (const factory of dialects) {
  describe(`aloft controller on ${factory.dialect}`, { timeout: 600_000 }, () => {
    let cluster: HaCluster;
    let work: string;
    let webhook: http.Server;
    let posts: Array<Record<string, unknown>>;
    beforeEach(async () => {
      cluster = new HaCluster(await factory.create());
      await cluster.setup({ workload: false });
      work = tempDir("ha-controller");
      posts = [];
      webhook = http.createServer((req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", () => {
          posts.push(JSON.parse(body) as Record<string, unknown>);
          res.end("ok");
        });
      });
      await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    });
    afterEach(async () => {
      await cluster.teardown();
      await new Promise((resolve) => webhook.close(resolve));
    });

    test("a generic command runs on exactly one node with its epoch; hooks run on each transition", async () => {
      const starts = path.join(work, "starts.txt");
      const hookFile = path.join(work, "hooks.txt");
      const port = (webhook.address() as { port: number }).port;
      const env = {
        ALOFT_HA_HOOK_COMMAND: `echo "$ALOFT_HA_EVENT $ALOFT_HA_NODE $ALOFT_HA_EPOCH" >> ${hookFile}`,
        ALOFT_HA_HOOK_URL: `http://127.0.0.1:${port}/hook?token=abc`,
      };
      const controller = { name: "nightly-export", command: recordingCommand(starts) };
      const a = cluster.node("a", { priority: 100, controller, env });
      const b = cluster.node("b", { priority: 50, controller, env });
      await withCluster(cluster, async () => {
        a.start();
        await a.waitForLog("became active");
        b.start();
        await b.waitForLog("standby");
        await waitFor("the command started once", async () => (lines(starts).length === 1 ? true : undefined), 10_000, 50);
        const [node, epoch, pid] = lines(starts)[0]!.split(" ");
        assert.equal(node, "a");
        const status = await cluster.status("nightly-export");
        assert.equal(status.leader?.node_id, "a");
        assert.equal(String(status.leader?.epoch), epoch, "the command got the lease's epoch in ALOFT_HA_EPOCH");
        assert.equal(status.nodes.find((n) => n.node_id === "a")?.child_pid, Number(pid), "ha status shows the command's own pid");

        a.signal("SIGTERM");
        assert.equal(await a.waitForExit(15_000), 0);
        assert.ok(!isRunning(Number(pid)), "the command outlived its controller's shutdown");
        await b.waitForLog("became active", 10_000);
        await waitFor("the command started on b", async () => (lines(starts).length === 2 ? true : undefined), 10_000, 50);
        assert.match(lines(starts)[1]!, /^b /);

        const hooks = await waitFor("three hook commands", async () => (lines(hookFile).length >= 3 ? lines(hookFile) : undefined), 10_000, 100);
        assert.deepEqual(
          hooks.map((l) => l.split(" ").slice(0, 2).join(" ")),
          ["became_active a", "lost_leadership a", "became_active b"],
        );
        const delivered = await waitFor("three webhooks", async () => (posts.length >= 3 ? posts : undefined), 10_000, 100);
        assert.deepEqual(
          delivered.map((p) => `${String(p.event)} ${String(p.node_id)}`),
          ["became_active a", "lost_leadership a", "became_active b"],
        );
        assert.equal(delivered[0]!.cluster, "nightly-export");
        assert.equal(typeof delivered[2]!.epoch, "number");
        assert.ok(!a.stderr.includes("token=abc"), "the webhook's query string (a token) was logged");
      });
    });

    test("a generic command failing its health command is killed and restarted", async () => {
      const starts = path.join(work, "starts.txt");
      const healthy = path.join(work, "healthy");
      fs.writeFileSync(healthy, "");
      const a = cluster.node("a", { controller: { name: "exporter", command: recordingCommand(starts), healthCmd: `test -f ${healthy}` } });
      await withCluster(cluster, async () => {
        a.start();
        await waitFor("healthy", async () => ((await cluster.status("exporter")).nodes[0]?.child_health === "healthy" ? true : undefined), 15_000, 200);
        const firstPid = Number(lines(starts)[0]!.split(" ")[2]);
        fs.rmSync(healthy);
        const unhealthy = await a.waitForLog("child unhealthy", HA_TIMINGS.childTimeoutMs + 10_000);
        assert.ok(unhealthy);
        await waitFor("a second start", async () => (lines(starts).length >= 2 ? true : undefined), 10_000, 50);
        assert.ok(!isRunning(firstPid), "the unhealthy command is still running");
        fs.writeFileSync(healthy, "");
        await waitFor("healthy again", async () => ((await cluster.status("exporter")).nodes[0]?.child_health === "healthy" ? true : undefined), 15_000, 200);
      });
    });

    test("a starting command gets ha_child_startup_timeout_ms to become healthy, not ha_child_timeout_ms; one that never does is killed then", async () => {
      const starts = path.join(work, "starts.txt");
      const healthy = path.join(work, "healthy");
      // Healthy 3 s after its start: later than ha_child_timeout_ms (1.5 s), within the start-up allowance (6 s).
      const slowStart = recordingCommand(starts, `(sleep 3; touch ${healthy}) & `);
      const env = { ALOFT_HA_CHILD_TIMEOUT_MS: "1500", ALOFT_HA_CHILD_STARTUP_TIMEOUT_MS: "6000" };
      const a = cluster.node("a", { env, controller: { name: "slow-start", command: slowStart, healthCmd: `test -f ${healthy}` } });
      await withCluster(cluster, async () => {
        a.start();
        await waitFor("healthy", async () => ((await cluster.status("slow-start")).nodes[0]?.child_health === "healthy" ? true : undefined), 20_000, 200);
        assert.equal(lines(starts).length, 1, "the slow starter was killed before its start-up allowance ran out");
        assert.equal(a.logs("child unhealthy").length, 0);

        // Never healthy: killed once the allowance is over, with a message that names the setting.
        const never = cluster.node("b", { env, controller: { name: "never-healthy", command: recordingCommand(starts), healthCmd: "false" } });
        never.start();
        const unhealthy = await never.waitForLog("child unhealthy", 20_000);
        assert.match(String(unhealthy.msg), /ha_child_startup_timeout_ms/);
        assert.ok(Number(unhealthy.silent_ms) >= 6000, `killed after ${String(unhealthy.silent_ms)} ms`);
      });
    });

    test("after ha_max_restarts failures in the window the node gives up, steps down, and another takes over", async () => {
      const starts = path.join(work, "starts.txt");
      const hookFile = path.join(work, "hooks.txt");
      // Node a's command crashes at once; node b's runs.
      const command = recordingCommand(starts, `[ "$ALOFT_HA_NODE" = a ] && { echo "$ALOFT_HA_NODE $ALOFT_HA_EPOCH crash" >> ${starts}; exit 3; }; `);
      const env = { ALOFT_HA_MAX_RESTARTS: "2", ALOFT_HA_HOOK_COMMAND: `echo "$ALOFT_HA_EVENT $ALOFT_HA_NODE" >> ${hookFile}` };
      const a = cluster.node("a", { priority: 100, env, controller: { name: "crashy", command } });
      const b = cluster.node("b", { priority: 50, env, controller: { name: "crashy", command } });
      await withCluster(cluster, async () => {
        a.start();
        await a.waitForLog("became active");
        b.start();
        const gaveUp = await a.waitForLog("gave up after failed restarts", 20_000);
        assert.match(String(gaveUp.reason), /failed 3 times/);
        await b.waitForLog("became active", 10_000);
        assert.equal(lines(starts).filter((l) => l.startsWith("a ")).length, 3, "a started its command 1 + 2 times");
        const status = await cluster.status("crashy");
        assert.equal(status.leader?.node_id, "b");
        assert.ok(status.events.some((e) => e.node_id === "a" && e.to === "standby" && e.reason.startsWith("gave up")));
        await waitFor("the gave_up hook", async () => (lines(hookFile).includes("gave_up a") ? true : undefined), 10_000, 100);
        // It sits out: b stays the leader even though a has the higher priority.
        await new Promise((r) => setTimeout(r, HA_TIMINGS.preemptDelayMs + 1000));
        assert.equal((await cluster.status("crashy")).leader?.node_id, "b");
      });
    });

    test("a hung scheduling child (live pid, no heartbeat) is killed and restarted", async () => {
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 50 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        const before = await cluster.waitForLeader({ be: a });
        process.kill(before.child.pid, "SIGSTOP");
        await a.waitForLog("child unhealthy", HA_TIMINGS.childTimeoutMs + 10_000);
        const restarted = await waitFor(
          "a new child on a",
          async () => runningChildren(await cluster.sampler.snapshot()).find((c) => c.node === "a" && c.pid !== before.child.pid),
          10_000,
          50,
        );
        assert.ok(!isRunning(before.child.pid), "the hung child is still there");
        assert.equal((await cluster.status()).leader?.node_id, "a", "a hung child is restarted in place, not a failover");
        assert.ok(restarted.pid > 0);
      });
    });
  });
}

describe("aloft controller usage errors", () => {
  const env = { ALOFT_HOME: tempDir("ha-usage"), ALOFT_DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
  test("a bad cluster name, the scheduler's name, a bad health URL, and timings that cannot work are refused before anything starts", async () => {
    for (const [args, message] of [
      [["controller", "--name", "bad name!", "--", "true"], /--name 'bad name!' is not a valid cluster name/],
      [["controller", "--name", "scheduler", "--", "true"], /is the cluster of `aloft scheduler`/],
      [["controller", "--name", "job", "--health-url", "nope", "--", "true"], /--health-url 'nope' is not a URL/],
      [["controller", "--name", "job"], /missing required argument 'command'/],
    ] as const) {
      const result = await runCli([...args], env);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const timings = await runCli(["scheduler", "--port", "0"], { ...env, ALOFT_HA_LEASE_MS: "1000", ALOFT_HA_RENEW_MS: "500" });
    assert.equal(timings.code, 2);
    assert.match(timings.stderr, /ha_lease_ms \(1000\) must be at least 3 × ha_renew_ms \(500\)/);
  });
});
