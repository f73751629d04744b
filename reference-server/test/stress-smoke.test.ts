/**
 * Smoke test of the stress script (bench/stress.mjs, `npm run stress`): run at a tiny scale
 * against the built CLI, it starts and stops its own servers and prints its JSON summary.
 * Only the shape is checked: the figures depend on the machine, and are recorded from
 * full-scale runs, not asserted here.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "confab-stress-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const latency = expect.objectContaining({
  n: expect.any(Number),
  p50: expect.any(Number),
  p99: expect.any(Number),
  max: expect.any(Number),
});

/** What every attack reports besides its own figures. */
const measured = {
  durationMs: expect.any(Number),
  stoppedBy: "done",
  serverRssMb: {
    start: expect.any(Number),
    peak: expect.any(Number),
    end: expect.any(Number),
  },
  loopDelayMs: expect.objectContaining({ method: expect.stringContaining("keepalive") }),
  peerRoundTripMs: expect.objectContaining({ failures: {}, missedTicks: expect.any(Number) }),
  healthzMs: expect.objectContaining({ timeouts: expect.any(Number) }),
  shutdown: { shutdownMs: expect.any(Number), killed: false, exitCode: 0 },
};

describe("stress script (bench/stress.mjs)", () => {
  it("replays both attacks at a tiny scale and prints a JSON summary", async () => {
    const out = join(dir, "stress.json");
    const args = [
      "bench/stress.mjs",
      ...["--conns", "2", "--sessions", "3", "--watch", "700"],
      ...["--messages", "10", "--msg-chars", "100", "--logs", "4", "--logs-conns", "2"],
      ...["--time-limit", "10", "--out", out],
    ];
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      cwd: ROOT,
      timeout: 60_000,
    });
    const summary = JSON.parse(stdout);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(summary);
    expect(summary).toMatchObject({ tool: "bench/stress.mjs", server: expect.any(String) });
    const { watchFlood, historyAmplification } = summary.attacks;
    expect(watchFlood).toMatchObject({
      ...measured,
      shape: "2 x 3 x 700",
      entriesAttempted: 4200,
      commands: 12,
      entriesAccepted: 4200,
      refused: false,
    });
    expect(historyAmplification).toMatchObject({
      ...measured,
      stored: 10,
      logsReplies: 4,
      logsItems: 40,
      replyBytes: { max: expect.any(Number), total: expect.any(Number) },
    });
    for (const attack of [watchFlood, historyAmplification]) {
      expect(attack.loopDelayMs).toEqual(latency);
      expect(attack.peerRoundTripMs).toEqual(latency);
    }
  }, 90_000);
});
