/**
 * A worker thread (plain JS, so it needs no loader) that samples /proc every `everyMs` for the
 * processes of one HA test, recognised by ALOFT_TEST_HA_TAG=<tag> in /proc/PID/environ:
 * - supervised children (command line has `dist/ha/scheduler-child.js`, environment has ALOFT_HA_CLUSTER): for
 *   each, the intervals it was running (present, not stopped 'T', not a zombie), when it was gone
 *   (exited: absent or a zombie), and every sample
 *   at which two or more were running;
 * - task processes (environment has ALOFT_TRY_NUMBER): for each, the try it runs, which child it
 *   descends from, and when it was first and last seen.
 * Runs in its own thread so that the test's event loop cannot delay a sample. See ha.ts.
 */
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

const { tag, everyMs } = workerData;
const TAG = `ALOFT_TEST_HA_TAG=${tag}\0`;

/** pid → what we know of it: { start, kind: "none"|"pending"|"child"|"task", checkedAt, firstAt, key, cmdline } */
const procs = new Map();
/** key (pid:starttime) → child record */
const children = new Map();
/** key (pid:starttime) → task process record */
const tasks = new Map();
const overlaps = [];
let samples = 0;
let worstGapMs = 0;
let lastAt = 0;
let stopped = false;

function read(file) {
  try {
    return fs.readFileSync(file, "latin1");
  } catch {
    return null;
  }
}

function parseStat(raw) {
  const close = raw.lastIndexOf(")");
  const fields = raw.slice(close + 2).split(" ");
  return { state: fields[0], ppid: Number(fields[1]), start: fields[19] };
}

function envOf(raw) {
  const env = {};
  for (const pair of raw.split("\0")) {
    const eq = pair.indexOf("=");
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** The key of the child that `pid` descends from, walking parents (null: none of ours). */
function ancestorChild(pid) {
  for (let p = pid, hops = 0; p > 1 && hops < 32; hops++) {
    const info = procs.get(p);
    if (info && info.kind === "child") return info.key;
    const raw = read(`/proc/${p}/stat`);
    if (!raw) return null;
    p = parseStat(raw).ppid;
  }
  return null;
}

function classify(pid, stat, now, previous) {
  const firstAt = previous?.firstAt ?? now;
  // Kernel threads and zombies have no environment to read (ESRCH), pid 1 may refuse (EACCES): not ours.
  const envRaw = read(`/proc/${pid}/environ`) ?? "";
  if (!(envRaw + "\0").includes(TAG)) {
    // Ours a moment ago (a fork before its exec): in the middle of its exec, its environment reads as
    // empty. Look again at the next sample (for up to 1 s), rather than never again.
    if (previous?.kind === "pending" && now - firstAt <= 1000) {
      procs.set(pid, { ...previous, checkedAt: now });
      return undefined;
    }
    // A process forked by something of ours has our environment from the start; one exec'd into
    // ours from outside may not yet have it: look once more a little later, then never again.
    procs.set(pid, { start: stat.start, kind: "none", checkedAt: now, firstAt, final: previous !== undefined });
    return undefined;
  }
  const cmdline = (read(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ");
  const env = envOf(envRaw);
  const key = `${pid}:${stat.start}`;
  // A process the child forks (runner, DAG parser) carries the child's command line until its exec:
  // one whose parent has that command line too is such a fork, to look at again (below), not a child.
  const forkOfChild = (read(`/proc/${stat.ppid}/cmdline`) ?? "").includes("scheduler-child.js");
  if (cmdline.includes("scheduler-child.js") && env.ALOFT_HA_CLUSTER !== undefined && !forkOfChild) {
    procs.set(pid, { start: stat.start, kind: "child", checkedAt: now, firstAt, key });
    children.set(key, {
      key,
      pid,
      node: env.ALOFT_HA_NODE ?? null,
      epoch: env.ALOFT_HA_EPOCH === undefined ? null : Number(env.ALOFT_HA_EPOCH),
      cluster: env.ALOFT_HA_CLUSTER,
      firstSeen: now,
      lastSeen: now,
      goneAt: null,
      intervals: [],
      open: false,
      stoppedSamples: 0,
    });
    return "child";
  }
  if (env.ALOFT_TRY_NUMBER !== undefined && env.ALOFT_TASK_ID !== undefined) {
    procs.set(pid, { start: stat.start, kind: "task", checkedAt: now, firstAt, key });
    tasks.set(key, {
      key,
      pid,
      ppid: stat.ppid,
      dag: env.ALOFT_DAG_ID,
      run: env.ALOFT_RUN_ID,
      task: env.ALOFT_TASK_ID,
      tryNumber: Number(env.ALOFT_TRY_NUMBER),
      node: env.ALOFT_HA_NODE ?? null,
      child: ancestorChild(stat.ppid),
      command: cmdline.slice(0, 200),
      firstSeen: now,
      lastSeen: now,
    });
    return "task";
  }
  // Ours but not a child or a task (a controller, a runner), or not yet (between fork and exec, however
  // long that takes on a loaded machine): looked at again whenever its command line changes.
  procs.set(pid, { start: stat.start, kind: "pending", checkedAt: now, firstAt, cmdline });
  return undefined;
}

function tick() {
  const now = Date.now();
  if (lastAt) worstGapMs = Math.max(worstGapMs, now - lastAt);
  const lastSample = lastAt;
  lastAt = now;
  samples++;
  let entries;
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return;
  }
  const present = new Set();
  const running = [];
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry);
    present.add(pid);
    let info = procs.get(pid);
    if (info && info.kind === "none" && (info.final || now - info.checkedAt < 300)) continue;
    if (info && info.kind === "pending") {
      if (now - info.checkedAt < 20) continue;
      const cmdline = (read(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ");
      if (cmdline === info.cmdline) {
        info.checkedAt = now;
        continue;
      }
    }
    const raw = read(`/proc/${pid}/stat`);
    if (!raw) continue;
    const stat = parseStat(raw);
    if (info && info.start !== stat.start) {
      procs.delete(pid); // pid reused
      info = undefined;
    }
    if (!info || info.kind === "none" || info.kind === "pending") {
      classify(pid, stat, now, info);
      info = procs.get(pid);
      if (!info || (info.kind !== "child" && info.kind !== "task")) continue;
    }
    const dead = stat.state === "Z" || stat.state === "X";
    if (info.kind === "child") {
      const child = children.get(info.key);
      if (dead) {
        // A zombie has exited: it only waits for its parent to read its status.
        child.open = false;
        child.goneAt ??= now;
        continue;
      }
      const live = stat.state !== "T" && stat.state !== "t";
      child.lastSeen = now;
      if (live) {
        running.push(child.key);
        if (child.open) child.intervals[child.intervals.length - 1][1] = now;
        else child.intervals.push([now, now, lastSample]); // [first, last running sample, the sample before]
        child.open = true;
      } else {
        if (stat.state === "T" || stat.state === "t") child.stoppedSamples++;
        child.open = false;
      }
    } else if (info.kind === "task" && !dead) {
      // A zombie is not running: its orphans wait for pid 1 to reap them, which here takes up to ~2 s.
      tasks.get(info.key).lastSeen = now;
    }
  }
  for (const [pid, info] of procs) {
    if (present.has(pid)) continue;
    procs.delete(pid);
    if (info.kind === "child") {
      const child = children.get(info.key);
      child.open = false;
      child.goneAt ??= now;
    }
  }
  if (running.length >= 2 && overlaps.length < 5000) overlaps.push({ at: now, keys: running });
}

function snapshot() {
  return {
    at: Date.now(),
    samples,
    worstGapMs,
    children: [...children.values()].map((c) => ({ ...c, intervals: c.intervals.map((i) => [...i]) })),
    tasks: [...tasks.values()].map((t) => ({ ...t })),
    overlaps: overlaps.map((o) => ({ at: o.at, keys: [...o.keys] })),
  };
}

function loop() {
  if (stopped) return;
  const started = Date.now();
  tick();
  setTimeout(loop, Math.max(0, everyMs - (Date.now() - started)));
}

parentPort.on("message", (message) => {
  if (message.type === "snapshot") parentPort.postMessage({ id: message.id, snapshot: snapshot() });
  if (message.type === "stop") {
    stopped = true;
    parentPort.postMessage({ id: message.id, snapshot: snapshot() });
  }
});
loop();
