/**
 * /proc sampling: peak memory and CPU of the processes under measure (standalone, scheduler, workers),
 * of the runner processes each of them forked, and of the whole machine. Linux only.
 */
import fs from "node:fs";
import os from "node:os";

export const SAMPLE_MS = 100;
const CLOCK_TICKS_PER_S = 100; // USER_HZ of /proc/<pid>/stat and /proc/stat

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return null; // the process is gone
  }
}

function statusKb(pid, field) {
  const match = readProc(pid, "status")?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return match ? Number(match[1]) : 0;
}

/** utime + stime of a process in clock ticks, or null when it is gone. */
function cpuTicks(pid) {
  const stat = readProc(pid, "stat");
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy clock ticks of the whole machine, all cores. */
function machineBusyTicks() {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  return [user, nice, system, irq, softirq, steal].reduce((sum, v) => sum + Number(v), 0);
}

const runnerCache = new Map(); // pid → is it a runner (its command line does not change)

/** Pids of the runner processes forked by `pid`. */
function runnerPids(pid) {
  let threads = [];
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const kids = threads.flatMap((tid) => (readProc(pid, `task/${tid}/children`) ?? "").trim().split(/\s+/).filter(Boolean));
  return kids.map(Number).filter((kid) => {
    if (!runnerCache.has(kid)) runnerCache.set(kid, readProc(kid, "cmdline")?.includes("runner-child.js") ?? false);
    return runnerCache.get(kid);
  });
}

/** Peak memory and CPU of one process and of the runners it forked. */
function processWatch(pid) {
  const mainStart = cpuTicks(pid) ?? 0;
  const runnerStart = new Map(runnerPids(pid).map((r) => [r, cpuTicks(r) ?? 0]));
  const runnerLast = new Map(runnerStart);
  const peak = { rssMb: 0, runnersRssMb: 0, runners: 0 };
  let mainLast = mainStart;
  return {
    sample() {
      peak.rssMb = Math.max(peak.rssMb, statusKb(pid, "VmRSS") / 1024);
      mainLast = cpuTicks(pid) ?? mainLast;
      const runners = runnerPids(pid);
      let summedKb = 0;
      for (const runner of runners) {
        summedKb += statusKb(runner, "VmRSS");
        runnerLast.set(runner, cpuTicks(runner) ?? runnerLast.get(runner) ?? 0);
      }
      peak.runnersRssMb = Math.max(peak.runnersRssMb, summedKb / 1024);
      peak.runners = Math.max(peak.runners, runners.length);
    },
    result() {
      let runnerTicks = 0;
      for (const [runner, last] of runnerLast) runnerTicks += last - (runnerStart.get(runner) ?? 0);
      return {
        ...peak,
        hwmMb: statusKb(pid, "VmHWM") / 1024,
        cpuS: (mainLast - mainStart) / CLOCK_TICKS_PER_S,
        runnersCpuS: runnerTicks / CLOCK_TICKS_PER_S,
      };
    },
  };
}

/**
 * Samples memory and CPU of `pids` every SAMPLE_MS until stopped. stop() returns, for each pid in order,
 * its peak RSS in MB (its runners summed apart) and the CPU seconds it and its runners used since start
 * (new runners from their birth, so their start-up counts), and the CPU seconds of the whole machine.
 */
export function startMonitor(pids) {
  runnerCache.clear();
  const started = Date.now();
  const machineStart = machineBusyTicks();
  const watches = pids.map(processWatch);
  const sample = () => watches.forEach((w) => w.sample());
  const timer = setInterval(sample, SAMPLE_MS);

  return function stop() {
    clearInterval(timer);
    sample();
    return {
      processes: watches.map((w) => w.result()),
      cpu: {
        wallS: (Date.now() - started) / 1000,
        cores: os.cpus().length,
        machineS: (machineBusyTicks() - machineStart) / CLOCK_TICKS_PER_S,
      },
    };
  };
}

/** Pids of the processes whose command name (/proc/PID/comm) is `comm`, e.g. "redis-server". */
export function pidsByCommand(comm) {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && readProc(entry, "comm")?.trim() === comm)
    .map(Number);
}

/**
 * Counts the CPU a group of processes uses (a server's: the DB backends, the broker), from the pids
 * alive now to those alive when stopped; one born meanwhile counts from its birth, one gone meanwhile
 * is lost. stop(pidsNow) returns CPU seconds, or null when none of them is a process of this machine.
 */
export function startCpuCount(pids) {
  const start = new Map(pids.map((pid) => [pid, cpuTicks(pid) ?? 0]));
  return function stop(pidsNow) {
    let ticks = null;
    for (const pid of pidsNow) {
      const now = cpuTicks(pid);
      if (now !== null) ticks = (ticks ?? 0) + now - (start.get(pid) ?? 0);
    }
    return ticks === null ? null : ticks / CLOCK_TICKS_PER_S;
  };
}

/** How busy the machine is (0..1 of all cores) over `ms`: the load others put on it before a scenario. */
export async function machineBusy(ms) {
  const start = machineBusyTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (machineBusyTicks() - start) / CLOCK_TICKS_PER_S / ((ms / 1000) * os.cpus().length);
}

/** Starts counting how busy the machine is (0..1 of all cores, everyone's load); the returned stop() says. */
export function startBusyCount() {
  const start = machineBusyTicks();
  const started = Date.now();
  return () => (machineBusyTicks() - start) / CLOCK_TICKS_PER_S / (((Date.now() - started) / 1000) * os.cpus().length);
}
