#!/usr/bin/env node
// Requirement traceability: which requirement IDs the tests of a suite name.
//
//   node spec/tools/trace.mjs                       # every suite: server, then client
//   node spec/tools/trace.mjs --target client       # one suite, with its folder and baseline
//   node spec/tools/trace.mjs --target server --dir reference-server/test
//        --baseline reference-server/test/untested.json [--json]
//
// A suite is the tests of one implementation and the requirements of its target (Table of
// SUITES below): the reference server's tests for the "server" requirements, the reference
// client's for the "client" ones; requirements whose target is "both" count for each.
// A test covers a requirement when the title of an `it`, `test` or `describe` names the ID
// in square brackets, e.g. `it("[SESSION-OPEN-4] closes ...")`; several IDs may share
// brackets: `[ACK-1, ACK-2]`. IDs in comments do not count: a comment tests nothing.
// The baseline lists requirements deliberately left untested, each with a reason. The run
// fails (exit 1) when a requirement of the target is neither covered nor in the baseline,
// when a test names an ID the spec does not have, or when a baseline entry is covered
// (stale: the baseline may only shrink).
//
// Plain Node ESM, no dependencies.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Every `*.test.ts` / `*.test.mjs` under `dir`. */
export function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === "node_modules" ? [] : testFiles(p);
    return /\.test\.(ts|mts|mjs|js)$/.test(d.name) ? [p] : [];
  });
}

/** Map ID → files that cite it. */
export function citations(files) {
  const cited = new Map();
  const bracket =
    /\[([A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-[0-9]+(?:\s*,\s*[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-[0-9]+)*)\]/g;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const titles = [
      ...text.matchAll(/\b(?:it|test|describe)(?:\.\w+)*\(\s*(["'`])((?:\\.|(?!\1)[\s\S])*?)\1/g),
    ].map((t) => t[2]);
    for (const m of titles.join("\n").matchAll(bracket)) {
      for (const id of m[1].split(/\s*,\s*/)) {
        const set = cited.get(id) ?? new Set();
        set.add(relative(root, file));
        cited.set(id, set);
      }
    }
  }
  return cited;
}

/** The suites: the tests of each implementation, and its baseline of untested requirements. */
export const SUITES = {
  server: { dirs: ["reference-server/test"], baseline: "reference-server/test/untested.json" },
  client: { dirs: ["reference-client/test"], baseline: "reference-client/test/untested.json" },
};

/**
 * Computes the trace of one suite. `dirs` and `baseline` default to those of the target's
 * suite in {@link SUITES}.
 */
export function trace({
  target = "server",
  dirs = SUITES[target]?.dirs ?? [],
  baseline = SUITES[target]?.baseline,
} = {}) {
  const reqs = JSON.parse(readFileSync(join(root, "spec/requirements.json"), "utf8"));
  const known = new Set(reqs.map((r) => r.id));
  const files = dirs.flatMap((d) => testFiles(join(root, d)));
  const cited = citations(files);
  const untested =
    baseline && existsSync(join(root, baseline))
      ? JSON.parse(readFileSync(join(root, baseline), "utf8"))
      : {};
  const relevant = reqs.filter((r) => r.target === target || r.target === "both");
  const covered = relevant.filter((r) => cited.has(r.id));
  const missing = relevant.filter((r) => !cited.has(r.id) && !(r.id in untested));
  const unknown = [...cited.keys()].filter((id) => !known.has(id)).sort();
  const stale = Object.keys(untested)
    .filter((id) => cited.has(id) || !known.has(id))
    .sort();
  return { relevant, covered, missing, unknown, stale, untested, cited };
}

/** The report of one suite, as printed. */
function report(target, t) {
  const lines = [`${target} requirements`, "area        covered / total"];
  const byArea = new Map();
  for (const r of t.relevant) {
    const a = byArea.get(r.area) ?? { total: 0, covered: 0 };
    a.total++;
    if (t.cited.has(r.id)) a.covered++;
    byArea.set(r.area, a);
  }
  for (const [area, a] of byArea)
    lines.push(`${area.padEnd(12)}${String(a.covered).padStart(7)} / ${a.total}`);
  lines.push(
    `\n${t.covered.length} of ${t.relevant.length} ${target} requirements covered; ${Object.keys(t.untested).length} deliberately untested`,
  );
  for (const r of t.missing) lines.push(`MISSING  ${r.id}  ${r.text.slice(0, 100)}`);
  for (const id of t.unknown) lines.push(`UNKNOWN  ${id} is cited by a test but not in the spec`);
  for (const id of t.stale)
    lines.push(`STALE    ${id} is in the baseline but covered (or gone): remove it`);
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const target = arg("--target");
  if (target !== undefined && !(target in SUITES) && arg("--dir") === undefined) {
    console.error(
      `unknown target ${target}: one of ${Object.keys(SUITES).join(", ")}, or give --dir`,
    );
    process.exit(2);
  }
  const targets = target === undefined ? Object.keys(SUITES) : [target];
  const traces = targets.map((tg) => {
    const dir = arg("--dir");
    const options = { target: tg };
    if (dir !== undefined) options.dirs = [dir];
    const baseline = arg("--baseline");
    if (baseline !== undefined) options.baseline = baseline;
    return [tg, trace(options)];
  });
  if (process.argv.includes("--json")) {
    const json = Object.fromEntries(
      traces.map(([tg, t]) => [
        tg,
        {
          covered: t.covered.map((r) => r.id),
          missing: t.missing.map((r) => r.id),
          unknown: t.unknown,
          stale: t.stale,
          untested: t.untested,
        },
      ]),
    );
    console.log(JSON.stringify(target === undefined ? json : json[target], null, 2));
  } else {
    console.log(traces.map(([tg, t]) => report(tg, t)).join("\n\n"));
  }
  const failures = traces.reduce(
    (n, [, t]) => n + t.missing.length + t.unknown.length + t.stale.length,
    0,
  );
  process.exit(failures > 0 ? 1 : 0);
}
