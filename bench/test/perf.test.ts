/**
 * The reader of `perf script` output (bench/lib/perf.mjs, `bench/profile.mjs --perf`), on
 * samples as perf 6.1 printed them for a reference server under W5, cut to a few frames.
 */
import { describe, expect, it } from "vitest";
import { formatPerf, kindOf, parsePerfScript, scriptOf, summarizePerf } from "../lib/perf.mjs";

const MAP = "/tmp/perf-2517.map";
// Three samples of 0.5 ms: the engine under ws's receive path (JIT code, then a builtin it
// called), a system call of the send path (kernel, under node's stream code), and a
// scavenge with no JavaScript frame on its stack.
const SCRIPT = [
  "    500250 ",
  `\t    7f5687138fd2 JS:*handleCommand file:///work/main/reference-server/dist/src/core/engine.js:385:18 (${MAP})`,
  `\t    7f568712b8a2 JS:*startLoop /work/main/node_modules/ws/lib/receiver.js:172:12 (${MAP})`,
  "\t         9ddd6a uv__read (/usr/bin/node)",
  "",
  "    500250 ",
  "\t         150bcd5 Builtins_FindOrderedHashMapEntry (/usr/bin/node)",
  `\t    7f5687138fd2 JS:*handleCommand file:///work/main/reference-server/dist/src/core/engine.js:385:18 (${MAP})`,
  "",
  "    499500 ",
  "\tffffffffa1b2c3d4 do_writev ([kernel.kallsyms])",
  "\t         9d5f27 node::StreamBase::JSMethod<&node::StreamBase::Writev> (/usr/bin/node)",
  `\t    7f56870edbf7 JS:*writeOrBuffer node:internal/streams/writable:548:23 (${MAP})`,
  "",
  "    500250 ",
  "\t         c4a574 v8::internal::ScavengerCollector::CollectGarbage() (/usr/bin/node)",
  "\t         c494db v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace) (/usr/bin/node)",
  "",
].join("\n");

const areaOf = (url: string) =>
  url.includes("/reference-server/")
    ? "core"
    : url.includes("/node_modules/ws/")
      ? "ws"
      : url.startsWith("node:")
        ? "node internals"
        : "other";

describe("parsePerfScript", () => {
  it("reads each sample's period and its frames, the leaf first", () => {
    const samples = parsePerfScript(SCRIPT);
    expect(samples.map((s) => s.periodNs)).toEqual([500250, 500250, 499500, 500250]);
    expect(samples[0]?.frames.map((f) => f.dso)).toEqual([MAP, MAP, "/usr/bin/node"]);
    expect(samples[2]?.frames[0]).toEqual({ sym: "do_writev", dso: "[kernel.kallsyms]" });
    // A C++ symbol keeps its parentheses: only the last group is the DSO.
    expect(samples[3]?.frames[1]?.sym).toBe(
      "v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace)",
    );
  });

  it("takes a last sample that no blank line ends", () => {
    expect(parsePerfScript(SCRIPT.trimEnd())).toHaveLength(4);
  });
});

describe("kindOf and scriptOf", () => {
  it("tells the kernel, JIT code, V8's own code and the libraries apart", () => {
    expect(kindOf({ sym: "x", dso: "[kernel.kallsyms]" })).toBe("kernel");
    expect(kindOf({ sym: "x", dso: MAP })).toMatch(/^JavaScript/);
    expect(kindOf({ sym: "x", dso: "/usr/bin/node" })).toMatch(/^Node and V8/);
    expect(kindOf({ sym: "x", dso: "/usr/lib/x86_64-linux-gnu/libc.so.6" })).toBe("libc");
    expect(
      kindOf({ sym: "x", dso: "/w/node_modules/better-sqlite3/build/Release/better_sqlite3.node" }),
    ).toMatch(/^SQLite/);
    expect(kindOf({ sym: "x", dso: "/usr/lib/libstdc++.so.6" })).toBe(
      "other native (libstdc++.so.6)",
    );
  });

  it("finds the script of a JS frame, whatever its tier", () => {
    expect(scriptOf("JS:*flush file:///a/ws-adapter.js:248:10")).toBe("file:///a/ws-adapter.js");
    expect(scriptOf("JS:~realpathSync node:fs:2664:22")).toBe("node:fs");
    expect(scriptOf("JS:^send /a/node_modules/ws/lib/sender.js:354:7")).toBe(
      "/a/node_modules/ws/lib/sender.js",
    );
    expect(scriptOf("Builtins_LoadIC")).toBeUndefined();
  });
});

describe("summarizePerf", () => {
  const summary = summarizePerf(parsePerfScript(SCRIPT), { units: 100, cpuS: 0.004, areaOf });

  it("shares out the /proc CPU time per unit as the samples fall", () => {
    // 4 ms of CPU over 100 deliveries: 40 µs each.
    expect(summary.usPerUnit).toBeCloseTo(40, 6);
    expect(summary.samples).toBe(4);
    expect(summary.sampledS).toBeCloseTo(0.00200025, 8);
    const kernel = summary.byKind.find((r) => r.name === "kernel");
    expect(kernel?.share).toBeCloseTo(499500 / 2000250, 6);
    expect(kernel?.us).toBeCloseTo((40 * 499500) / 2000250, 6);
    const total = summary.byKind.reduce((t, r) => t + r.us, 0);
    expect(total).toBeCloseTo(40, 6);
  });

  it("charges native and kernel frames to the nearest JS frame's area, GC apart", () => {
    const byArea = Object.fromEntries(summary.byArea.map((r) => [r.name, r.share]));
    // The builtin under handleCommand is the core's, do_writev node's stream code's.
    expect(byArea.core).toBeCloseTo((2 * 500250) / 2000250, 6);
    expect(byArea["node internals"]).toBeCloseTo(499500 / 2000250, 6);
    expect(byArea.GC).toBeCloseTo(500250 / 2000250, 6);
    expect(byArea.ws).toBeUndefined();
  });

  it("charges native and kernel frames to the nearest JS function too, GC apart", () => {
    const byNearest = Object.fromEntries(summary.topNearest.map((r) => [r.name, r.share]));
    // handleCommand's own sample and its builtin's; startLoop is never the nearest.
    expect(
      byNearest[
        "JS:*handleCommand file:///work/main/reference-server/dist/src/core/engine.js:385:18"
      ],
    ).toBeCloseTo((2 * 500250) / 2000250, 6);
    expect(byNearest["JS:*writeOrBuffer node:internal/streams/writable:548:23"]).toBeCloseTo(
      499500 / 2000250,
      6,
    );
    expect(byNearest.GC).toBeCloseTo(500250 / 2000250, 6);
    expect(Object.keys(byNearest)).toHaveLength(3);
  });

  it("counts a JS function once per sample in its inclusive time", () => {
    const handle = summary.topInclusive.find((r) => r.name.includes("handleCommand"));
    const loop = summary.topInclusive.find((r) => r.name.includes("startLoop"));
    expect(handle?.share).toBeCloseTo((2 * 500250) / 2000250, 6);
    expect(loop?.share).toBeCloseTo(500250 / 2000250, 6);
  });

  it("falls back to the sampled time without a CPU figure, and formats", () => {
    const s = summarizePerf(parsePerfScript(SCRIPT), { units: 10, areaOf });
    expect(s.usPerUnit).toBeCloseTo((0.00200025 * 1e6) / 10, 6);
    const text = formatPerf(s, "delivery");
    expect(text).toContain("µs of server CPU per delivery");
    expect(text).toContain("by area");
    expect(text).toContain("the nearest JavaScript frame");
  });
});
