/**
 * Ports for the servers the kit starts, and who listens on them.
 *
 * The kit picks a port, releases it, and hands its number to a server command, so another
 * process can take the port in between (tests that start servers in parallel, a CI runner's
 * other jobs). Two defences, both here:
 *
 * - {@link pickPort} picks outside the kernel's ephemeral range, which is where `listen(0)`
 *   and outgoing connections get their ports: only a process that chose the same number by
 *   itself can then take it;
 * - {@link listenerOwner} tells whether the socket that listens on a port belongs to the
 *   command's own processes, so that the kit does not mistake another server's answer for
 *   its own (which it once did, and then tested that other server).
 *
 * Both read Linux's `/proc`; elsewhere the first falls back to a range below every common
 * system's ephemeral range and the second answers `unknown`.
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

/** Whether a port is free on 127.0.0.1 now: bound, then released. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** The lowest port {@link pickPort} picks: below it sit many well-known services. */
const LOWEST_PICK = 15_000;

/** How many random ports {@link pickPort} tries before it lets the kernel choose. */
const PICK_TRIES = 20;

/**
 * The ports {@link pickPort} chooses from: from 15000 (`LOWEST_PICK`) up to just below the
 * ephemeral range that `/proc/sys/net/ipv4/ip_local_port_range` gives, or up to 32767 (below
 * Linux's default 32768 and the 49152 of macOS, the BSDs and Windows) where it cannot be read.
 * `undefined` when the ephemeral range starts too low to leave room.
 */
export function pickRange(rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"):
  | {
      readonly low: number;
      readonly high: number;
    }
  | undefined {
  let ephemeralLow = 32_768;
  try {
    const first = Number(readFileSync(rangeFile, "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) ephemeralLow = first;
  } catch {
    // not Linux, or no /proc: keep the default
  }
  const high = ephemeralLow - 1;
  return high - LOWEST_PICK >= 1_000 ? { low: LOWEST_PICK, high } : undefined;
}

/**
 * A port that is free on 127.0.0.1 now, for a server command to listen on. It is picked at
 * random outside the ephemeral range ({@link pickRange}) and checked by binding it; after
 * 20 (`PICK_TRIES`) taken ones, or where there is no such range, the kernel picks one.
 */
export async function pickPort(range = pickRange()): Promise<number> {
  if (range !== undefined) {
    for (let i = 0; i < PICK_TRIES; i++) {
      const port = range.low + Math.floor(Math.random() * (range.high - range.low + 1));
      if (await portIsFree(port)) return port;
    }
  }
  return kernelPort();
}

/** A port the kernel assigns to `listen(0)` on 127.0.0.1 (bound, then released). */
export function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Who listens on a port where 127.0.0.1 reaches it: `ours` when a process of the tree rooted
 * at `pid` holds a listening socket there, `foreign` when only other processes do, `unknown`
 * when the system does not say (not Linux, or no visible listener, as behind a NAT rule).
 */
export type ListenerOwner = "ours" | "foreign" | "unknown";

/** Addresses, as `/proc/net/tcp{,6}` writes them, that accept connections to 127.0.0.1. */
const REACHES_LOOPBACK = new Set([
  "0100007F", // 127.0.0.1
  "00000000", // 0.0.0.0
  "00000000000000000000000000000000", // ::, dual-stack
  "0000000000000000FFFF00000100007F", // ::ffff:127.0.0.1
]);

/** The inodes of the sockets listening on `port` where 127.0.0.1 reaches them. */
export function listeningInodes(port: number, tables: readonly string[]): Set<string> {
  const inodes = new Set<string>();
  for (const table of tables) {
    for (const line of table.split("\n").slice(1)) {
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== "0A") continue; // 0A: LISTEN
      const [address, hexPort] = (fields[1] ?? "").split(":");
      if (Number.parseInt(hexPort ?? "", 16) !== port) continue;
      if (!REACHES_LOOPBACK.has(address ?? "")) continue;
      inodes.add(fields[9] ?? "");
    }
  }
  return inodes;
}

/** `pid` and all its descendants, from each process's parent in `/proc/N/stat`. */
export function processTree(pid: number, proc = "/proc"): Set<number> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${proc}/${entry}/stat`, "utf8");
    } catch {
      continue; // it exited while we looked
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree = new Set<number>([pid]);
  const todo = [pid];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    for (const child of children.get(next) ?? []) {
      if (tree.has(child)) continue;
      tree.add(child);
      todo.push(child);
    }
  }
  return tree;
}

/** Whether a process of `pids` has a descriptor open on one of the socket `inodes`. */
function holdsSocket(pids: Iterable<number>, inodes: Set<string>, proc: string): boolean {
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`${proc}/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${proc}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode !== undefined && inodes.has(inode)) return true;
    }
  }
  return false;
}

/** See {@link ListenerOwner}. `proc` is where procfs is mounted (a test may point elsewhere). */
export function listenerOwner(port: number, pid: number, proc = "/proc"): ListenerOwner {
  const tables: string[] = [];
  for (const name of ["tcp", "tcp6"]) {
    try {
      tables.push(readFileSync(`${proc}/net/${name}`, "utf8"));
    } catch {
      // no such table here
    }
  }
  if (tables.length === 0) return "unknown";
  const inodes = listeningInodes(port, tables);
  if (inodes.size === 0) return "unknown";
  return holdsSocket(processTree(pid, proc), inodes, proc) ? "ours" : "foreign";
}
