/**
 * The HA suites' own instruments, checked against known answers so that a passing scenario means
 * something: the /proc sampler sees two children running at once (and not a stopped one), ties task
 * processes to their child, and the TCP proxy really cuts, silences and restores connections.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { describe, test } from "node:test";
import { waitFor } from "../helpers/aloft.js";
import { ChildSampler, childOverlaps, concurrentExecutions, killTagged, runningChildren, sleep, unverifiedHandovers } from "../helpers/ha.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

/** A process that looks like a supervised child of node `node` to the sampler; it runs `task` as a task process when given. */
function fakeChild(tag: string, node: string, task?: { id: string; tryNumber: number; seconds: number }): ChildProcess {
  const code = task
    ? `require("node:child_process").spawn("bash", ["-c", "sleep ${task.seconds}"], { env: { ...process.env, ALOFT_DAG_ID: "d", ALOFT_RUN_ID: "r", ALOFT_TASK_ID: "${task.id}", ALOFT_TRY_NUMBER: "${task.tryNumber}" }, stdio: "ignore" }); setInterval(() => {}, 1000);`
    : "setInterval(() => {}, 1000);";
  return spawn(process.execPath, ["-e", code, "scheduler-child.js"], {
    env: { ...process.env, ALOFT_TEST_HA_TAG: tag, ALOFT_HA_CLUSTER: "scheduler", ALOFT_HA_NODE: node, ALOFT_HA_EPOCH: "1" },
    stdio: "ignore",
  });
}

describe("HA test instruments", () => {
  test("the sampler records when each child runs, sees two at once as an overlap, and a stopped one as not running", async () => {
    const tag = crypto.randomBytes(6).toString("hex");
    const sampler = new ChildSampler(tag);
    sampler.start();
    try {
      const one = fakeChild(tag, "n1");
      await waitFor("n1's child seen", async () => ((await sampler.snapshot()).children.some((c) => c.pid === one.pid && c.open) ? true : undefined), 5000, 20);
      process.kill(one.pid!, "SIGSTOP");
      await sleep(100);
      const stoppedAt = Date.now();
      const two = fakeChild(tag, "n2");
      await waitFor("n2's child seen", async () => ((await sampler.snapshot()).children.some((c) => c.pid === two.pid && c.open) ? true : undefined), 5000, 20);
      await sleep(200);
      let snap = await sampler.snapshot();
      assert.deepEqual(runningChildren(snap).map((c) => c.node), ["n2"], "a stopped child counted as running");
      assert.deepEqual(childOverlaps(snap), [], "an overlap while one child was stopped");
      assert.deepEqual(unverifiedHandovers(snap), []);
      // A child whose start the sampler saw only after a long gap, with another running before it, is reported.
      const stalled = structuredClone(snap);
      const oneEnd = stalled.children.find((c) => c.pid === one.pid)!.intervals[0]![1];
      const twoRec = stalled.children.find((c) => c.pid === two.pid)!;
      twoRec.intervals[0] = [oneEnd + 500, oneEnd + 600, oneEnd];
      assert.equal(unverifiedHandovers(stalled).length, 1);
      twoRec.intervals[0] = [oneEnd + 50, oneEnd + 600, oneEnd];
      assert.equal(unverifiedHandovers(stalled).length, 0, "a gap of 50 ms is not a stall");
      const resumedAt = Date.now();
      process.kill(one.pid!, "SIGCONT");
      await sleep(300);
      snap = await sampler.snapshot();
      const overlaps = childOverlaps(snap);
      assert.ok(overlaps.length >= 10, `only ${overlaps.length} overlapping samples in 300 ms`);
      assert.deepEqual(overlaps[0]!.children.map((c) => c.node).sort(), ["n1", "n2"]);
      assert.ok(overlaps[0]!.at >= resumedAt - 20 && overlaps[0]!.at > stoppedAt);
      const first = snap.children.find((c) => c.pid === one.pid)!;
      assert.equal(first.intervals.length, 2, "a child stopped and resumed has two running intervals");
      assert.ok(first.stoppedSamples > 5);
      // The allowance is narrow: only that child, only within its window.
      assert.deepEqual(childOverlaps(snap, { key: first.key, from: resumedAt - 50, maxMs: 5000, why: "test" }), []);
      assert.equal(childOverlaps(snap, { key: first.key, from: resumedAt - 50, maxMs: 50, why: "test" }).length > 0, true);
      const secondKey = snap.children.find((c) => c.pid === two.pid)!.key;
      assert.equal(childOverlaps(snap, { key: secondKey, from: 0, maxMs: 1, why: "test" }).length, overlaps.length);
      one.kill("SIGKILL");
      two.kill("SIGKILL");
      await waitFor("both gone", async () => ((await sampler.snapshot()).children.every((c) => c.goneAt !== null) ? true : undefined), 5000, 20);
    } finally {
      killTagged(tag);
      await sampler.stop();
    }
  });

  test("what a child spawns (a fork that briefly looks like it) is never taken for a second child", async () => {
    const tag = crypto.randomBytes(6).toString("hex");
    const sampler = new ChildSampler(tag);
    sampler.start();
    try {
      const busy = spawn(
        process.execPath,
        ["-e", `const { spawn } = require("node:child_process"); setInterval(() => spawn("true", { stdio: "ignore" }), 2);`, "scheduler-child.js"],
        { env: { ...process.env, ALOFT_TEST_HA_TAG: tag, ALOFT_HA_CLUSTER: "scheduler", ALOFT_HA_NODE: "n1", ALOFT_HA_EPOCH: "1" }, stdio: "ignore" },
      );
      await sleep(1500);
      const snap = await sampler.snapshot();
      assert.deepEqual(snap.children.map((c) => c.pid), [busy.pid]);
      assert.deepEqual(childOverlaps(snap), []);
      busy.kill("SIGKILL");
    } finally {
      killTagged(tag);
      await sampler.stop();
    }
  });

  test("task processes are tied to their child, and two tries of one task at once are caught", async () => {
    const tag = crypto.randomBytes(6).toString("hex");
    const sampler = new ChildSampler(tag);
    sampler.start();
    try {
      const one = fakeChild(tag, "n1", { id: "t", tryNumber: 1, seconds: 4 });
      const seen = (node: string) => waitFor(`${node}'s task`, async () => ((await sampler.snapshot()).tasks.some((t) => t.node === node) ? true : undefined), 10_000, 20);
      await seen("n1");
      const two = fakeChild(tag, "n2", { id: "t", tryNumber: 2, seconds: 4 });
      await seen("n2");
      await sleep(100);
      const snap = await sampler.snapshot();
      const byNode = (node: string) => snap.tasks.filter((t) => t.node === node);
      const oneKey = snap.children.find((c) => c.pid === one.pid)!.key;
      assert.ok(byNode("n1").length >= 1 && byNode("n1").every((t) => t.child === oneKey), JSON.stringify(snap.tasks));
      const found = concurrentExecutions(snap.tasks);
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.match(found[0]!, /d r t: try 1 .* try 2/);
      one.kill("SIGKILL");
      two.kill("SIGKILL");
    } finally {
      killTagged(tag);
      await sampler.stop();
    }
  });

  test("a task process that exited but was not reaped yet (a zombie) is not taken as still running", async () => {
    const tag = crypto.randomBytes(6).toString("hex");
    const sampler = new ChildSampler(tag);
    sampler.start();
    try {
      // The task (sleep 0.3) is a child of a process that never waits for it (bash exec'd into sleep 5):
      // once it exits it stays a zombie for ~5 s, as orphans do here until pid 1 reaps them.
      const script = "(env ALOFT_DAG_ID=d ALOFT_RUN_ID=r ALOFT_TASK_ID=z ALOFT_TRY_NUMBER=1 sleep 0.3) & exec sleep 5";
      const parent = spawn("bash", ["-c", script], { env: { ...process.env, ALOFT_TEST_HA_TAG: tag }, stdio: "ignore" });
      const task = await waitFor("the task", async () => (await sampler.snapshot()).tasks.find((t) => t.task === "z"), 10_000, 20);
      await sleep(2_000);
      const zombie = fs.readFileSync(`/proc/${task.pid}/stat`, "latin1");
      assert.match(zombie.slice(zombie.lastIndexOf(")") + 2), /^Z/, "the task was expected to be a zombie by now");
      const seen = (await sampler.snapshot()).tasks.find((t) => t.key === task.key)!;
      assert.ok(seen.lastSeen - seen.firstSeen < 1_500, `a zombie counted as running: seen for ${seen.lastSeen - seen.firstSeen} ms`);
      parent.kill("SIGKILL");
    } finally {
      killTagged(tag);
      await sampler.stop();
    }
  });
  test("the TCP proxy forwards, cuts every connection, refuses while stopped, resumes on its port, and can drop traffic silently", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    const proxy = new TcpProxy("127.0.0.1", (echo.address() as net.AddressInfo).port);
    const port = await proxy.start();
    const roundTrip = (socket: net.Socket, text: string, timeoutMs = 1000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no answer")), timeoutMs);
        socket.once("data", (d: Buffer) => {
          clearTimeout(timer);
          resolve(d.toString());
        });
        socket.write(text);
      });
    const connect = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1", () => resolve(s));
        s.once("error", reject);
      });
    try {
      const s1 = await connect();
      assert.equal(await roundTrip(s1, "hello"), "hello");
      const closed = new Promise<void>((r) => s1.once("close", () => r()));
      await proxy.stop();
      await closed; // the open connection was cut
      await assert.rejects(connect(), /ECONNREFUSED/);
      await proxy.resume();
      assert.equal(proxy.port, port);
      const s2 = await connect();
      assert.equal(await roundTrip(s2, "again"), "again");
      proxy.blackhole();
      await assert.rejects(roundTrip(s2, "lost", 500), /no answer/);
      assert.equal(s2.destroyed, false, "a silent partition keeps the connection open");
      await proxy.resume();
      const s3 = await connect();
      assert.equal(await roundTrip(s3, "back"), "back");
      s3.destroy();
    } finally {
      await proxy.stop();
      echo.close();
    }
  });
});
