/**
 * HA scenario 7: the metadata DB restarts during a run. The shared test servers are never restarted
 * (other suites use them at the same time): each dialect gets a private server on a free port in a
 * temporary folder (PostgreSQL through initdb/pg_ctl, MariaDB through mariadb-install-db/mariadbd).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../helpers/aloft.js";
import { assertInvariants, HA_TIMINGS, HaCluster, leaderThenStandbys, runningChildren, sleep, withCluster } from "../helpers/ha.js";
import { PrivateServer, privateServerUnavailable } from "../helpers/private-db.js";

const dialects = (
  [
    ["postgres", "ALOFT_TEST_POSTGRES_URL"],
    ["mysql", "ALOFT_TEST_MYSQL_URL"],
  ] as const
).filter(([, env]) => process.env[env]);
if (dialects.length === 0) {
  test("HA: DB restart", { skip: "HA runs on PostgreSQL and MySQL/MariaDB only: set ALOFT_TEST_POSTGRES_URL / ALOFT_TEST_MYSQL_URL" }, () => {});
}

for (const [dialect] of dialects) {
  const unavailable = privateServerUnavailable(dialect);
  describe(`HA controller on ${dialect}: DB restart`, { timeout: 300_000, skip: unavailable }, () => {
    let server: PrivateServer;
    let cluster: HaCluster;
    before(async () => {
      server = new PrivateServer(dialect);
      await server.init();
      cluster = new HaCluster({ dialect, url: server.url, drop: async () => undefined });
      await cluster.setup();
    });
    after(async () => {
      await cluster?.teardown();
      await server?.destroy();
    });

    /** Exactly one node active per `ha status` and exactly one child running, for `stableMs` on end. */
    async function oneLeaderAfterwards(what: string, stableMs = 3000): Promise<string> {
      const leader = await cluster.waitForLeader({ timeoutMs: 40_000 });
      const until = Date.now() + stableMs;
      while (Date.now() < until) {
        const running = runningChildren(await cluster.sampler.snapshot());
        assert.deepEqual(
          running.map((c) => c.node),
          [leader.node.id],
          `${what}: children running ${JSON.stringify(running.map((c) => `${c.node}:${c.pid}`))} instead of exactly ${leader.node.id}'s`,
        );
        await sleep(100);
      }
      const status = await cluster.status();
      assert.deepEqual(
        status.nodes.filter((n) => n.role === "active").map((n) => n.node_id),
        [leader.node.id],
        `${what}: ha status does not show exactly one active node`,
      );
      for (const n of cluster.nodes) assert.ok(n.running, `${what}: controller ${n.id} exited (${n.exitCode ?? n.exitSignal}):\n${n.tail()}`);
      return leader.node.id;
    }

    test("7. the DB restarts (quickly, then after an outage longer than the lease) during runs: one leader afterwards, the runs complete", async () => {
      // Equal priorities: whoever leads after a restart keeps the lead (no preemption to tell from a flap).
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 100 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        await cluster.waitForProgress(2);

        for (const downMs of [0, HA_TIMINGS.leaseMs + 2000]) {
          // A run in flight when the DB goes away.
          // (The workload's first trigger may still be on its way on a busy machine.)
          const inFlight = await waitFor("a triggered run", async () => cluster.triggered.at(-1), 30_000, 100);
          await server.restart(downMs);
          await oneLeaderAfterwards(`after a restart with ${downMs} ms down`);
          await waitFor(
            `run ${inFlight.runId} to finish`,
            async () => {
              const run = (await cluster.runs().catch(() => [])).find((r) => r.run_id === inFlight.runId && r.dag_id === inFlight.dag);
              return run && (run.state === "success" || run.state === "failed") ? run.state : undefined;
            },
            60_000,
            300,
          ).then((state) => assert.equal(state, "success", `the run in flight during the restart ended ${state}`));
          await cluster.waitForProgress(3, 40_000);
        }
        assertInvariants(cluster, await cluster.invariants());
      });
    });
  });
}
