#!/usr/bin/env node
/**
 * Completes package-lock.json with the platform-specific optional packages (other OSes and
 * CPUs of @biomejs/cli-*, @rollup/rollup-*, …) that this machine's registry mirror does not
 * serve. `npm install` leaves them out when their metadata 404s, and `npm ci` then refuses
 * the lockfile as out of sync. Each entry is inferred from the parent's
 * `optionalDependencies` (exact version) and the package name (os, cpu, libc); npm never
 * fetches them on a platform they do not match. Run after any `npm install` that changes
 * the lockfile:  node scripts/complete-lockfile.mjs
 */
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const OSES = [
  "android",
  "darwin",
  "linux",
  "win32",
  "freebsd",
  "openbsd",
  "openharmony",
  "netbsd",
  "sunos",
  "aix",
];
const CPUS = ["arm64", "x64", "ia32", "arm", "loong64", "ppc64", "riscv64", "s390x", "mips64el"];

let added = 0;
for (const [, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const parts = name.split("/").pop().split("-");
    const os = OSES.find((o) => parts.includes(o));
    const cpu =
      CPUS.find((c) => parts.includes(c)) ??
      (parts.some((p) => p.startsWith("arm")) ? "arm" : undefined);
    if (!os || !cpu) {
      console.error(`cannot infer platform of ${name}; left out`);
      continue;
    }
    // Keys in the order npm itself writes them, so a later `npm install` leaves the file as is.
    const libc =
      os === "linux" ? [parts.some((p) => p.startsWith("musl")) ? "musl" : "glibc"] : undefined;
    const entry = {
      version,
      cpu: [cpu],
      ...(pkg.dev ? { dev: true } : {}),
      ...(libc ? { libc } : {}),
      optional: true,
      os: [os],
    };
    lock.packages[key] = entry;
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) =>
    a === "" ? -1 : b === "" ? 1 : a.localeCompare(b),
  ),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
