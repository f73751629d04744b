/**
 * The parser of V8's `--trace-gc-nvp` lines (bench/lib/gc.mjs, `bench/profile.mjs --gc`), on
 * lines a server printed under W3's load, between lines of the server's own log.
 */
import { describe, expect, it } from "vitest";
import { formatGc, parseGcTrace, summarizeGc } from "../lib/gc.mjs";

// Two lines as Node v20 printed them (a scavenge and a mark-compact), cut to the fields read.
const SCAVENGE =
  "[12781:0x186f3270]       97 ms: pause=0.9 mutator=20.2 gc=s scavenge=0.89 scavenge.sweep_array_buffers=0.04 promoted=211576 new_space_survived=551728 total_size_before=7798664 total_size_after=6797624";
const MARK_COMPACT =
  "[12781:0x186f3270]      479 ms: pause=3.9 mutator=67.6 gc=mc promoted=1148928 new_space_survived=0 total_size_before=17198920 total_size_after=11552208";
const LOG = [
  '{"level":"info","event":"listening","port":40000}',
  SCAVENGE,
  '{"level":"info","event":"connection_closed","pause":"not a gc line"}',
  MARK_COMPACT,
  SCAVENGE.replace("pause=", "pause=1").replace(
    /new_space_survived=\d+/,
    "new_space_survived=1024",
  ),
  "",
].join("\n");

describe("parseGcTrace", () => {
  it("reads every collection line and skips the server's own", () => {
    const events = parseGcTrace(LOG);
    expect(events.map((e) => e.kind)).toEqual(["s", "mc", "s"]);
    const [s, mc, s2] = events;
    expect(s).toMatchObject({ pauseMs: 0.9, survivedBytes: 551728, promotedBytes: 211576 });
    expect(s?.sweepArrayBuffersMs).toBeCloseTo(0.04, 9);
    expect(mc?.pauseMs).toBe(3.9);
    expect(s2?.pauseMs).toBe(10.9);
    expect(s2?.survivedBytes).toBe(1024);
    expect((s?.atMs ?? 0) < (mc?.atMs ?? 0)).toBe(true);
  });
});

describe("summarizeGc", () => {
  it("counts and ranks the pauses of each kind", () => {
    const summary = summarizeGc(parseGcTrace(LOG));
    expect(Object.keys(summary).sort()).toEqual(["mark-compact", "scavenge"]);
    const sc = summary.scavenge;
    expect(sc?.count).toBe(2);
    expect(sc?.maxPauseMs).toBe(10.9);
    expect(sc?.p50PauseMs).toBe(0.9);
    expect(sc?.meanSurvivedBytes).toBe((551728 + 1024) / 2);
    expect(sc?.over3Ms).toBe(1);
    expect(formatGc(summary, 10)).toContain("scavenge: 2, one every 5000 ms");
    expect(formatGc({}, 1)).toBe("no collection");
  });
});
