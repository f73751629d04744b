/**
 * The property-based case: random sequences of sessions opening and ending, connections
 * dropped, direct and group messages (persistent, transient, with receipts, refused), and
 * membership changes, over a pool of three peers with two devices each and one group;
 * checked on the record after a heal and a flush barrier (see `model/run.ts`).
 * @module
 */
import { defineCase, type ServerCase } from "../case.js";
import { ServerFault } from "../errors.js";
import { runProperty } from "../model/run.js";
import { writeTrace } from "../model/trace.js";

/** Runs and sequence lengths of each profile. */
const PROFILES = {
  quick: { numRuns: 12, maxCommands: 60, size: "large" },
  thorough: { numRuns: 80, maxCommands: 150, size: "large" },
  durability: { numRuns: 8, maxCommands: 60, size: "large" },
} as const;

/**
 * The fast-check replay settings of a `--replay` token's path part, `PATH[@REPLAYPATH]`:
 * the shrink path, and fc.commands' own replay hint.
 */
function replayOf(token: string | undefined): { path?: string; replayPath?: string } {
  if (token === undefined) return {};
  const [path, replayPath] = token.split("@", 2) as [string, string | undefined];
  return { path, ...(replayPath !== undefined && { replayPath }) };
}

/** The property cases. */
export const CASES: readonly ServerCase[] = [
  defineCase({
    name: "property/messaging/model-run",
    requirements: [
      "ACK-PROMISE-1",
      "ACK-PROMISE-2",
      "DIRECT-DELIVER-1",
      "DIRECT-ONLY-1",
      "DIRECT-ONCE-1",
      "DIRECT-ORDER-1",
      "OFFLINE-ORDER-1",
      "ECHO-OFF-1",
      "ECHO-NOTSELF-1",
      "TRANSIENT-DELIVER-1",
      "TRANSIENT-STORE-1",
      "TRANSIENT-HISTORY-1",
      "ROOM-MSG-1",
      "ROOM-MSG-2",
      "RECEIPT-SEND-1",
      "RECEIPT-ONCE-1",
      "RECEIPT-IGNORE-1",
      "PRESENCE-ON-2",
      "PRESENCE-OFF-1",
      "PRESENCE-ALT-1",
      "PRESENCE-DEVICES-1",
      "PRESENCE-SCOPE-1",
      "LOGS-ORDER-1",
      "LOGS-CURSOR-1",
      "ERROR-NOEFFECT-1",
    ],
    features: ["groups", "receipts", "offline", "history"],
    timeoutMs: 120_000,
    async run(ctx) {
      const profile = PROFILES[ctx.profile as keyof typeof PROFILES] ?? PROFILES.quick;
      const numRuns = ctx.property.numRuns ?? profile.numRuns;
      const offlineCount = ctx.limits().offlineCount ?? 50;
      const outcome = await runProperty(
        ctx,
        {
          numRuns,
          maxCommands: profile.maxCommands,
          size: profile.size,
          faults: true,
          seed: ctx.seed,
          ...replayOf(ctx.property.replayPath),
        },
        offlineCount,
      );
      if (outcome.ok) {
        ctx.note(`${outcome.runs} runs: ${JSON.stringify(outcome.stats)}`);
        if (outcome.stats.deliveries === 0)
          throw new Error("the property runs delivered nothing: the generator is broken");
        return;
      }
      for (const e of outcome.events) ctx.recorder.events.push(e);
      const traceFile = writeTrace(ctx.property.traceDir, "property-messaging", outcome.trace);
      const token = `${outcome.seed}:${outcome.path}${outcome.replayPath === undefined ? "" : `@${outcome.replayPath}`}`;
      ctx.replay = {
        seed: outcome.seed,
        path: outcome.path,
        command: `confab-conformance server --run 'property/messaging/model-run' --replay ${token}`,
        traceFile,
      };
      const v = outcome.violation;
      throw new ServerFault(
        v.requirement,
        `${v.message} (shrunk to: ${outcome.commands}; ${outcome.all.length} violation(s); trace ${traceFile})`,
        {
          ...(v.expected !== undefined && { expected: v.expected }),
          ...(v.actual !== undefined && { actual: v.actual }),
        },
      );
    },
  }),
];
