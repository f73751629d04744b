/**
 * What the benchmarks read from the operating system: a process's CPU time and RSS from
 * /proc, the clock-tick rate, and core pinning with `taskset`.
 * @module
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";

/** Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`; 100 when it cannot be asked). */
export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/**
 * Whether this kernel reports each thread's time on a CPU in nanoseconds
 * (`/proc/PID/task/TID/schedstat`, first field): then {@link cpuSeconds} reads that, not the
 * clock ticks of /proc/PID/stat. A tick is 10 ms, so a baseline that uses 0.08 cores for 3 s
 * (BF) holds only 24 of them, and its per-CPU-second figure moved by 15% between runs.
 */
export const SCHEDSTAT = (() => {
  try {
    const text = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8");
    return Number(text.split(" ")[0]) > 0;
  } catch {
    return false;
  }
})();

/**
 * CPU time of a process, user plus system, in seconds, all its threads included: the sum of
 * its threads' nanoseconds on a CPU ({@link SCHEDSTAT}), else fields 14 and 15 of
 * /proc/PID/stat (clock ticks); null when the process is gone. (A thread that ends between
 * two readings takes its time out of the sum; Node's threads live as long as the process.)
 * @param {number} pid
 * @returns {number | null}
 */
export function cpuSeconds(pid) {
  try {
    if (SCHEDSTAT) {
      let ns = 0;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
        } catch {
          // The thread ended while the list was read.
        }
      }
      return ns / 1e9;
    }
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * Busy CPU time of the whole machine, seconds over all cores (the "cpu" line of /proc/stat,
 * less idle and iowait): with the server's and the generator's own, it tells how much of
 * the machine other processes took during a measurement.
 * @returns {number}
 */
export function machineBusySeconds() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - (v[3] ?? 0) - (v[4] ?? 0)) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resident set size of a process, KB (VmRSS of /proc/PID/status); null when it is gone.
 * @param {number} pid
 * @returns {number | null}
 */
export function rssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Whether the server and the load generator can be pinned to different cores: `taskset`
 * runs, and the machine has at least two cores. Says why not otherwise.
 * @returns {{ available: boolean, reason: string }}
 */
export function tasksetSupport() {
  const n = availableParallelism();
  if (n < 2) return { available: false, reason: `only ${n} core` };
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    execFileSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
    // That pinned this process to core 1, where it stays: it only orchestrates.
    return { available: true, reason: "taskset -c 0 for the server, -c 1 for the generator" };
  } catch (err) {
    return { available: false, reason: `taskset failed: ${String(err).split("\n")[0]}` };
  }
}

/**
 * Pins a running process to one core (`taskset -p -c CORE PID`); false when it failed.
 * @param {number} pid
 * @param {number} core
 */
export function pin(pid, core) {
  try {
    execFileSync("taskset", ["-p", "-c", String(core), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The machine, as the results record it. */
export function machineInfo() {
  const list = cpus();
  let kernel = "";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {}
  let memTotalMb = null;
  try {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    memTotalMb = m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {}
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? "unknown",
    memTotalMb,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    kernel,
    clkTck: CLK_TCK,
    cpuTimeSource: SCHEDSTAT ? "schedstat (ns)" : "stat (clock ticks)",
  };
}
