/**
 * HA scenario 8: nodes whose clocks are 60 s off (libfaketime, Debian's `faketime` package, preloaded
 * into the controller and so into its child): the database's clock is the only clock, so a skewed
 * standby never takes over early and a skewed leader's lease never expires early.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { afterEach, beforeEach, describe, test } from "node:test";
import { testDialects } from "../helpers/dialects.js";
import { assertInvariants, HA_TIMINGS, HaCluster, type HaNode, leaderThenStandbys, sleep, withCluster } from "../helpers/ha.js";

const dialects = testDialects().filter((d) => d.dialect !== "sqlite");
if (dialects.length === 0) {
  test("HA: clock skew", { skip: "HA runs on PostgreSQL and MySQL/MariaDB only: set ALOFT_TEST_POSTGRES_URL / ALOFT_TEST_MYSQL_URL" }, () => {});
}

const LIBFAKETIME = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1"].find((f) =>
  fs.existsSync(f),
);
const SKEW_S = 60;

/** Environment that puts a controller (and its child) `seconds` off the real clock; monotonic time stays true. */
function skewed(seconds: number): NodeJS.ProcessEnv {
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: `${seconds > 0 ? "+" : ""}${seconds}s`, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

/** The node's clock offset as its log shows it (its pino `time` minus when we read the line), in seconds. */
function observedSkew(node: HaNode): number {
  const line = node.lines.find((l) => typeof l.time === "number");
  assert.ok(line, `${node.id} logged no line with a time`);
  return Math.round(((line.time as number) - line.seenAt) / 1000);
}

for (const factory of dialects) {
  describe(`HA controller on ${factory.dialect}: clock skew`, { timeout: 300_000, skip: LIBFAKETIME ? undefined : "libfaketime is not installed (apt-get install faketime)" }, () => {
    let cluster: HaCluster;
    beforeEach(async () => {
      cluster = new HaCluster(await factory.create());
      await cluster.setup();
    });
    afterEach(async () => {
      await cluster.teardown();
    });

    test(`8. nodes ${SKEW_S} s ahead and behind: no spurious takeover, no early expiry, as standby or as leader`, async () => {
      const a = cluster.node("a", { priority: 100 });
      const ahead = cluster.node("ahead", { priority: 50, env: skewed(SKEW_S) });
      const behind = cluster.node("behind", { priority: 40, env: skewed(-SKEW_S) });
      /** Watches for 2 leases and a bit: same leader, same epoch, same child, nobody else became active. */
      const holds = async (leader: HaNode, what: string) => {
        const start = await cluster.waitForLeader({ be: leader });
        const others = cluster.nodes.filter((n) => n.running && n !== leader);
        const linesBefore = new Map(others.map((n) => [n, n.lines.length]));
        await sleep(HA_TIMINGS.leaseMs * 2 + 1000);
        const status = await cluster.status();
        assert.equal(status.leader?.node_id, leader.id, `${what}: the leader changed`);
        assert.equal(status.epoch, start.epoch, `${what}: the epoch changed`);
        const expiresIn = status.leader!.expires_in_ms;
        assert.ok(expiresIn > 0 && expiresIn <= HA_TIMINGS.leaseMs + 1000, `${what}: ha status says the lease expires in ${expiresIn} ms (lease ${HA_TIMINGS.leaseMs} ms)`);
        assert.equal((await cluster.childOf(leader))?.key, start.child.key, `${what}: the leader's child was stopped or replaced`);
        for (const n of others) {
          const became = n.lines.slice(linesBefore.get(n)).filter((l) => l.msg === "became active");
          assert.equal(became.length, 0, `${what}: ${n.id} became active`);
          assert.equal(status.nodes.find((r) => r.node_id === n.id)?.role, "standby", `${what}: ${n.id} is not standby`);
        }
        assert.equal(leader.logs("lost leadership").length, 0, `${what}: the leader lost its leadership`);
      };

      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, ahead, behind);
        assert.equal(observedSkew(ahead), SKEW_S, "the clock of 'ahead' is not skewed: libfaketime did not take");
        assert.equal(observedSkew(behind), -SKEW_S, "the clock of 'behind' is not skewed: libfaketime did not take");
        cluster.startWorkload();
        await holds(a, "skewed standbys, true leader");

        // A skewed leader, then the other skew as leader, each watched by the remaining standbys.
        a.signal("SIGTERM");
        await a.waitForExit();
        const first = (await cluster.waitForLeader({ timeoutMs: 15_000 })).node;
        assert.ok(first === ahead || first === behind);
        await holds(first, `${first.id} as leader`);
        const second = first === ahead ? behind : ahead;
        first.signal("SIGTERM");
        await first.waitForExit();
        await cluster.waitForLeader({ be: second, timeoutMs: 15_000 });
        // A node with a true clock joins as standby (lower priority, so no preemption).
        const a2 = cluster.node("a", { priority: 10 });
        a2.start();
        await a2.waitForLog("standby");
        await holds(second, `${second.id} as leader`);
        assertInvariants(cluster, await cluster.invariants());
      });
    });
  });
}
