/**
 * The HA controller's acceptance scenarios (issue 5) that need nothing but the test database:
 * real `aloft scheduler` controllers, real signals, a TCP proxy in front of the DB, on PostgreSQL and
 * MariaDB. Every scenario runs the workload throughout and ends with the invariants (ha.ts): never
 * two children running, no try executed twice, every DAG run finishes with success.
 *
 * Scenario 7 (DB restart) is in db-restart.test.ts, scenario 8 (clock skew) in clock-skew.test.ts.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { sql } from "../../src/store/kysely.js";
import { waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { assertInvariants, HA_SECRET, HA_TIMINGS, HaCluster, leaderThenStandbys, runningChildren, sleep, trace, withCluster } from "../helpers/ha.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

const dialects = testDialects().filter((d) => d.dialect !== "sqlite");
if (dialects.length === 0) {
  test("HA scenarios", { skip: "HA runs on PostgreSQL and MySQL/MariaDB only: set ALOFT_TEST_POSTGRES_URL / ALOFT_TEST_MYSQL_URL" }, () => {});
}

const { leaseMs, preemptDelayMs } = HA_TIMINGS;

for (const factory of dialects) {
  describe(`HA controller on ${factory.dialect}`, { timeout: 900_000 }, () => {
    let cluster: HaCluster;
    beforeEach(async () => {
      cluster = new HaCluster(await factory.create());
      await cluster.setup();
    });
    afterEach(async () => {
      await cluster.teardown();
    });

    test("1. kill -9 of the active child: restarted on the same node, no takeover", async () => {
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 50 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        await cluster.waitForProgress(2);
        const before = await cluster.waitForLeader({ be: a });
        const killedAt = Date.now();
        process.kill(before.child.pid, "SIGKILL");

        const restarted = await waitFor(
          "a new child on node a",
          async () => runningChildren(await cluster.sampler.snapshot()).find((c) => c.node === "a" && c.pid !== before.child.pid),
          10_000,
          20,
        );
        const restartMs = restarted.firstSeen - killedAt;
        trace(cluster, `child running again ${restartMs} ms after its kill -9`);
        assert.ok(restartMs <= 3000, `the child was running again after ${restartMs} ms (expected ≤ 3000 ms with these settings)`);
        await a.waitForLog("child exited", 5000, 0, (l) => Number(l.pid) === before.child.pid);

        const after = await cluster.waitForLeader();
        assert.equal(after.node, a, "the leader changed after a kill of its child");
        assert.ok(after.epoch >= before.epoch);
        assert.equal(b.logs("became active").length, 0, "the standby took over");
        let shown: unknown;
        await waitFor(
          `ha status to show a's new child pid ${restarted.pid}`,
          async () => {
            const row = (await cluster.status()).nodes.find((n) => n.node_id === "a");
            shown = row;
            return row?.child_pid === restarted.pid ? true : undefined;
          },
          5000,
          200,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; it shows ${JSON.stringify(shown)}`);
        });
        await cluster.waitForProgress(3);
        assertInvariants(cluster, await cluster.invariants());
      });
    });

    test("2. SIGTERM of the active controller: its child stops, a standby takes over at once, no overlap", async () => {
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 50 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        await cluster.waitForProgress(2);
        const before = await cluster.waitForLeader({ be: a });
        a.signal("SIGTERM");
        assert.equal(await a.waitForExit(HA_TIMINGS.stopTimeoutMs + 10_000), 0, `a exited with ${a.exitCode ?? a.exitSignal}:\n${a.tail()}`);
        const snap = await cluster.waitForNoChild(a, 1000);
        const oldChild = snap.children.find((c) => c.key === before.child.key)!;
        assert.ok(oldChild.lastSeen <= a.exitedAt + 50, "the controller exited before its child was gone");

        const next = await cluster.waitForLeader({ be: b, timeoutMs: 10_000 });
        const became = await b.waitForLog("became active");
        trace(cluster, `b active ${became.seenAt - a.exitedAt} ms after a exited; b's child ran ${next.child.firstSeen - oldChild.intervals.at(-1)![1]} ms after a's stopped`);
        // The lease was released, not left to expire.
        assert.ok(became.seenAt - a.exitedAt < leaseMs, `b became active ${became.seenAt - a.exitedAt} ms after a exited (lease: ${leaseMs} ms): the lease was not released`);
        assert.ok(next.child.firstSeen > oldChild.intervals.at(-1)![1], "b's child started before a's had stopped");
        assert.ok(next.epoch > before.epoch, "the epoch did not grow with the new leader");
        await cluster.waitForProgress(3);
        assertInvariants(cluster, await cluster.invariants());
      });
    });

    test("3. the stopped node returns with a higher priority: takes over after the preemption delay, the other's child stopped first; with --no-preempt it stays standby", async () => {
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 50 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        a.signal("SIGTERM");
        await a.waitForExit();
        const bLead = await cluster.waitForLeader({ be: b });
        await cluster.waitForProgress(3);

        // It returns with a higher priority: it preempts b, after the delay, once b's child has stopped.
        const a2 = cluster.node("a", { priority: 200 });
        a2.start();
        const joined = await a2.waitForLog("standby");
        const taken = await cluster.waitForLeader({ be: a2, timeoutMs: preemptDelayMs + 15_000 });
        const became = await a2.waitForLog("became active");
        const waited = became.seenAt - joined.seenAt;
        assert.ok(waited >= preemptDelayMs - 200, `a took over ${waited} ms after joining: before the preemption delay (${preemptDelayMs} ms)`);
        assert.ok(waited <= preemptDelayMs + 5000, `a took over ${waited} ms after joining (preemption delay ${preemptDelayMs} ms)`);
        let snap = await cluster.sampler.snapshot();
        const bChild = snap.children.find((c) => c.key === bLead.child.key)!;
        assert.ok(bChild.intervals.at(-1)![1] < taken.child.firstSeen, "a's child started before b's had stopped");
        assert.ok(b.running, "b exited instead of going back to standby");
        let status = await cluster.status();
        assert.equal(status.nodes.find((n) => n.node_id === "b")?.role, "standby");
        assert.equal(status.leader?.node_id, "a");
        await cluster.waitForProgress(3);

        // Stopped again, it returns with the same priority and --no-preempt: it stays standby.
        a2.signal("SIGTERM");
        await a2.waitForExit();
        const bAgain = await cluster.waitForLeader({ be: b });
        const a3 = cluster.node("a", { priority: 200, noPreempt: true });
        a3.start();
        await a3.waitForLog("standby");
        await sleep(preemptDelayMs + 3000);
        status = await cluster.status();
        assert.equal(status.leader?.node_id, "b", "the --no-preempt node took over");
        assert.equal(status.epoch, bAgain.epoch, "the epoch changed");
        const a3Row = status.nodes.find((n) => n.node_id === "a");
        assert.equal(a3Row?.role, "standby");
        assert.equal(a3Row?.no_preempt, true);
        assert.equal(a3Row?.priority, 200);
        assert.equal(a3.logs("became active").length, 0);
        snap = await cluster.sampler.snapshot();
        assert.equal(runningChildren(snap).find((c) => c.node === "b")?.key, bAgain.child.key, "b's child was restarted or replaced");
        await cluster.waitForProgress(3);
        assertInvariants(cluster, await cluster.invariants());
      });
    });

    test("4. kill -9 of the active controller: its orphaned child exits, a standby takes over", async () => {
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 50 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        await cluster.waitForProgress(2);
        const before = await cluster.waitForLeader({ be: a });
        const killedAt = Date.now();
        a.signal("SIGKILL");
        const snap = await cluster.waitForNoChild(a, 5000);
        const orphan = snap.children.find((c) => c.key === before.child.key)!;
        assert.ok(orphan.lastSeen - killedAt <= 2000, `the orphaned child lived ${orphan.lastSeen - killedAt} ms after its controller was killed`);

        const next = await cluster.waitForLeader({ be: b, timeoutMs: leaseMs + 10_000 });
        const takeoverMs = next.child.firstSeen - killedAt;
        trace(cluster, `orphaned child gone ${orphan.lastSeen - killedAt} ms after the kill; b's child ran ${takeoverMs} ms after it`);
        assert.ok(takeoverMs <= leaseMs + 4000, `b's child ran ${takeoverMs} ms after the kill (lease ${leaseMs} ms)`);
        assert.ok(next.epoch > before.epoch);
        await cluster.waitForProgress(3);
        assertInvariants(cluster, await cluster.invariants());
      });
    });

    test("5. SIGSTOP of the active controller and its child beyond the lease: a standby takes over; once resumed, the old one commits nothing and becomes standby", async () => {
      // Equal priorities: the resumed node must stay standby (a higher one would rightly preempt later).
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 100 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        await cluster.waitForProgress(2);
        const before = await cluster.waitForLeader({ be: a });
        const stale = before.child;
        const stoppedAt = Date.now();
        process.kill(a.pid, "SIGSTOP");
        process.kill(stale.pid, "SIGSTOP");

        const next = await cluster.waitForLeader({ be: b, timeoutMs: leaseMs + 10_000 });
        assert.ok(next.epoch > before.epoch);
        await sleep(Math.max(0, stoppedAt + leaseMs + 2000 - Date.now()));
        await cluster.waitForProgress(2);
        const aLinesBefore = a.lines.length;

        // The child first: the worst case, it may try to commit before its controller notices.
        const resumedAt = Date.now();
        process.kill(stale.pid, "SIGCONT");
        process.kill(a.pid, "SIGCONT");

        const snap = await cluster.waitForNoChild(a, 10_000);
        const staleChild = snap.children.find((c) => c.key === stale.key)!;
        const ranAfterResume = staleChild.lastSeen - resumedAt;
        trace(cluster, `the deposed child ran ${ranAfterResume} ms after SIGCONT`);
        assert.ok(ranAfterResume <= 3000, `the deposed child ran ${ranAfterResume} ms after SIGCONT`);
        await a.waitForLog("lost leadership", 10_000, aLinesBefore);
        assert.ok(a.running, "the resumed controller exited instead of becoming standby");
        const status = await waitFor(
          "ha status to show a as standby",
          async () => {
            const s = await cluster.status();
            const row = s.nodes.find((n) => n.node_id === "a");
            return row?.role === "standby" && row.last_seen_ms_ago < 2000 ? s : undefined;
          },
          10_000,
          300,
        );
        assert.equal(status.leader?.node_id, "b");
        assert.equal(status.epoch, next.epoch, "the epoch changed after the resume");

        // It committed nothing: no task started under it after the resume, no try row claimed by it,
        // and it ended by being fenced ("is stale") or killed by its controller.
        const started = snap.tasks.filter((t) => t.child === stale.key && t.firstSeen >= resumedAt);
        assert.deepEqual(started.map((t) => `${t.dag} ${t.run} ${t.task} ${t.tryNumber}`), [], "the deposed child started tasks after it resumed");
        const itsPids = new Set([stale.pid, ...snap.tasks.filter((t) => t.child === stale.key).flatMap((t) => [t.pid, t.ppid])]);
        const claimed = await sql<{ task_id: string; try_number: number; pid: number | null }>`select task_id, try_number, pid from task_try where start_date >= ${resumedAt}`.execute(cluster.store.db);
        assert.deepEqual(claimed.rows.filter((r) => r.pid !== null && itsPids.has(Number(r.pid))), [], "a try was claimed by the deposed child after it resumed");
        const exited = a.lines.slice(aLinesBefore).find((l) => l.msg === "child exited" && Number(l.pid) === stale.pid);
        const fenced = a.stderr.includes("is stale") || (exited !== undefined && exited.signal !== null && exited.signal !== undefined);
        assert.ok(fenced, `the deposed child neither logged "is stale" nor was killed: ${JSON.stringify(exited)}`);

        await cluster.waitForProgress(3);
        assertInvariants(
          cluster,
          await cluster.invariants({
            allow: { key: stale.key, from: resumedAt, maxMs: 3000, why: "the deposed child runs until its controller or its fencing stops it" },
          }),
        );
      });
    });

    for (const mode of ["refused", "silent"] as const) {
      test(`6${mode === "refused" ? "a" : "b"}. the active node cut off from the DB (${mode === "refused" ? "proxy stopped" : "packets dropped"}): its child stops before its lease expires, a standby takes over, it rejoins as standby`, async () => {
        const target = new URL(cluster.databaseUrl);
        const proxy = new TcpProxy(target.hostname, Number(target.port || (factory.dialect === "postgres" ? 5432 : 3306)));
        await proxy.start();
        // Equal priorities: on its return it must stay standby (a higher one would rightly preempt later).
        const a = cluster.node("a", { priority: 100, databaseUrl: proxy.url(cluster.databaseUrl) });
        const b = cluster.node("b", { priority: 100 });
        try {
          await withCluster(cluster, async () => {
            await leaderThenStandbys(cluster, a, b);
            cluster.startWorkload();
            await cluster.waitForProgress(2);
            const before = await cluster.waitForLeader({ be: a });
            const cutAt = Date.now();
            if (mode === "refused") await proxy.stop();
            else proxy.blackhole();

            // Its renewals stop with the cut: the lease row read now holds its last expiry (DB clock,
            // the same machine clock as the sampler's).
            await sleep(HA_TIMINGS.renewMs * 2);
            const lease = await sql<{ holder: string; epoch: number; expires_at: number }>`select holder, epoch, expires_at from scheduler_lease where name = 'scheduler'`.execute(cluster.store.db);
            const expiresAt = Number(lease.rows[0]!.expires_at);
            assert.ok(expiresAt > cutAt - 1000 && expiresAt <= cutAt + leaseMs + 1000, `lease expiry ${expiresAt - cutAt} ms after the cut`);

            const snap = await cluster.waitForNoChild(a, leaseMs + 5000);
            const cut = snap.children.find((c) => c.key === before.child.key)!;
            const lastRunning = cut.intervals.at(-1)![1];
            trace(cluster, `a's child stopped ${lastRunning - cutAt} ms after the cut, ${expiresAt - lastRunning} ms before its lease expired`);
            assert.ok(lastRunning < expiresAt, `a's child was still running ${lastRunning - expiresAt} ms after a's lease expired`);

            const next = await cluster.waitForLeader({ be: b, timeoutMs: leaseMs + 10_000 });
            // b may take over before that expiry (when the DB saw a's connections end); never while a's child runs.
            assert.ok(next.child.firstSeen > lastRunning, "b's child started while a's was running");
            assert.ok(next.epoch > before.epoch);
            assert.ok(a.running, `a exited while cut off:\n${a.tail()}`);
            await a.waitForLog("lost leadership", 5000);
            await cluster.waitForProgress(3);

            const linesBefore = a.lines.length;
            await proxy.resume();
            await waitFor(
              "a to rejoin as standby",
              async () => {
                const status = await cluster.status();
                const row = status.nodes.find((n) => n.node_id === "a");
                return row?.role === "standby" && row.last_seen_ms_ago < 2000 ? status : undefined;
              },
              20_000,
              300,
            );
            await sleep(1500);
            assert.equal(a.lines.slice(linesBefore).filter((l) => l.msg === "became active").length, 0, "a took over again on its return");
            assert.equal(await cluster.childOf(a), undefined, "a runs a child again");
            assert.equal((await cluster.status()).leader?.node_id, "b");
            assertInvariants(cluster, await cluster.invariants());
          });
        } finally {
          await proxy.stop();
        }
      });
    }

    test("11. two deployments on one database server (two databases) do not disturb each other's leader during failovers", async () => {
      // The other deployment: its own database on the same server, its leader behind a proxy.
      const other = new HaCluster(await factory.create());
      await other.setup({ workload: false });
      const target = new URL(other.databaseUrl);
      const proxy = new TcpProxy(target.hostname, Number(target.port || (factory.dialect === "postgres" ? 5432 : 3306)));
      await proxy.start();
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 100 });
      const oa = other.node("oa", { priority: 100, databaseUrl: proxy.url(other.databaseUrl) });
      const ob = other.node("ob", { priority: 100 });
      try {
        await withCluster(cluster, async () => {
          await leaderThenStandbys(cluster, a, b);
          await leaderThenStandbys(other, oa, ob);
          cluster.startWorkload();
          await cluster.waitForProgress(3);
          const before = await cluster.waitForLeader({ be: a });
          // In the other deployment, a silent partition of its leader: its successor takes the lock and
          // ends the DB sessions that still hold it, which must only ever be its own database's.
          proxy.blackhole();
          await other.waitForLeader({ be: ob, timeoutMs: HA_TIMINGS.leaseMs + 15_000 });
          await sleep(2000);

          const after = await cluster.waitForLeader({ be: a });
          assert.equal(after.epoch, before.epoch, "this deployment's leadership changed during the other's failovers");
          assert.equal(after.child.key, before.child.key, "this deployment's child was stopped or replaced");
          for (const n of [a, b]) {
            const lost = n.lines.filter((l) => l.msg === "lost leadership" || l.msg === "lost the connection to the metadata DB");
            assert.deepEqual(lost.map((l) => `${l.msg}: ${String(l.reason ?? l.err)}`), [], `${n.id} was disturbed by the other deployment`);
          }
          assertInvariants(cluster, await cluster.invariants());
        });
      } finally {
        await proxy.stop();
        await other.teardown();
      }
    });

    test("9. three controllers started at the same instant: exactly one active", async () => {
      const nodes = ["n1", "n2", "n3"].map((id) => cluster.node(id, { priority: 100 }));
      await withCluster(cluster, async () => {
        for (const n of nodes) n.start();
        const first = await cluster.waitForLeader({ timeoutMs: 20_000 });
        cluster.startWorkload();
        const actives = async () =>
          (await sql<{ node_id: string; role: string }>`select node_id, role from ha_node where cluster = 'scheduler'`.execute(cluster.store.db)).rows
            .filter((r) => r.role === "active")
            .map((r) => r.node_id);
        // A node records its role in ha_node a renewal after taking the lease.
        await waitFor("ha_node to show the leader active", async () => ((await actives()).length > 0 ? true : undefined), 5000, 50);
        const roleSamples: string[][] = [];
        const until = Date.now() + 5000;
        while (Date.now() < until) {
          roleSamples.push(await actives());
          await sleep(100);
        }
        const notOne = roleSamples.filter((s) => s.length !== 1);
        assert.deepEqual(notOne, [], `samples of ha_node without exactly one active node (of ${roleSamples.length})`);
        const status = await cluster.status();
        assert.equal(status.leader?.node_id, first.node.id);
        assert.equal(status.epoch, first.epoch, "the leadership changed hands");
        assert.deepEqual(status.nodes.filter((n) => n.role === "active").map((n) => n.node_id), [first.node.id]);
        assert.equal(status.nodes.filter((n) => n.role === "standby").length, 2);
        const becameActive = nodes.flatMap((n) => n.logs("became active").map(() => n.id));
        assert.deepEqual(becameActive, [first.node.id], "more than one node became active, or one did twice");
        const snap = await cluster.sampler.snapshot();
        assert.deepEqual(snap.children.map((c) => c.node), [first.node.id], "a child ran on another node, or was restarted");
        assertInvariants(cluster, await cluster.invariants());
      });
    });

    test("10. a controller with a wrong secret is refused with a clear message; the cluster is unaffected", async () => {
      const a = cluster.node("a", { priority: 100 });
      const b = cluster.node("b", { priority: 50 });
      await withCluster(cluster, async () => {
        await leaderThenStandbys(cluster, a, b);
        cluster.startWorkload();
        const before = await cluster.waitForLeader({ be: a });
        const wrong = "not the cluster secret 91c2";
        // A higher priority, so that it would preempt if it were let in.
        const x = cluster.node("x", { priority: 500, env: { ALOFT_HA_SECRET: wrong } });
        x.start();
        const code = await x.waitForExit(20_000);
        assert.equal(code, 2, `exit code ${code ?? x.exitSignal}; stderr:\n${x.stderr}`);
        assert.match(x.stderr, /cluster secret/);
        for (const n of cluster.nodes) {
          assert.ok(!n.stderr.includes(wrong) && !n.stdout.includes(wrong), `${n.id} logged the wrong secret`);
          assert.ok(!n.stderr.includes(HA_SECRET) && !n.stdout.includes(HA_SECRET), `${n.id} logged the cluster secret`);
        }
        await sleep(preemptDelayMs + 1000);
        const status = await cluster.status();
        assert.equal(status.leader?.node_id, "a");
        assert.equal(status.epoch, before.epoch);
        const xRow = status.nodes.find((n) => n.node_id === "x");
        assert.ok(xRow === undefined || xRow.role === "refused", `x is listed as ${xRow?.role}`);
        const snap = await cluster.sampler.snapshot();
        assert.deepEqual(snap.children.filter((c) => c.node === "x"), [], "the refused node started a child");
        assert.equal((await cluster.childOf(a))?.key, before.child.key, "the leader's child was disturbed");
        const stored = await sql<Record<string, unknown>>`select * from ha_cluster`.execute(cluster.store.db);
        assert.ok(!JSON.stringify(stored.rows).includes(HA_SECRET), "the cluster secret is stored in plain text");
        await cluster.waitForProgress(3);
        assertInvariants(cluster, await cluster.invariants());
      });
    });
  });
}
