/**
 * The durability profile (`--profile durability`): cases that kill the server with SIGKILL,
 * so that no shutdown code runs, and restart it on the same storage (spec 10.3, Table 12).
 * They need control of the server's process: the embedded server, or `--server-command`.
 * They run one at a time, after every other case, since they take the server away.
 * @module
 */
import { conversationId } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import type { CaseContext } from "../context.js";
import { HarnessError, ServerFault } from "../errors.js";
import { runProperty } from "../model/run.js";
import { writeTrace } from "../model/trace.js";

/** The process control of the target; the `restart` need makes it present. */
function control(ctx: CaseContext) {
  const c = ctx.target.control;
  if (c === undefined) throw new HarnessError("a restart case ran without process control");
  return c;
}

/** A deterministic draw from the run's seed, so a failure replays with `--seed`. */
function draw(seed: number, salt: number, n: number): number {
  let x = (seed ^ (salt * 0x9e3779b1)) >>> 0;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) % n;
}

/** The durability cases. */
export const CASES: readonly ServerCase[] = [
  defineCase({
    name: "durability/crash/acked-messages-survive",
    requirements: ["ACK-DURABLE-1", "ACK-PROMISE-1", "ACK-PROMISE-2"],
    needs: ["restart"],
    features: ["offline", "history"],
    timeoutMs: 60_000,
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const total = 20;
      // Kill the moment the n-th ack arrives (Table 12), n drawn from the seed.
      const killAt = 1 + draw(ctx.seed, 1, total);
      const acked: { text: string; id: string }[] = [];
      let killing: Promise<void> | undefined;
      const texts = Array.from({ length: total }, (_, k) => `durable-${k}`);
      a.conn.onFrame((f) => {
        if (f.cmd !== "ack" || killing !== undefined) return;
        const k = Number(f.i) - 1000;
        const text = texts[k];
        if (text !== undefined) acked.push({ text, id: String(f.uid) });
        if (acked.length === killAt) killing = control(ctx).kill();
      });
      for (let k = 0; k < total; k++) {
        a.conn.send({
          cmd: "direct",
          appId: ctx.appId(),
          peerId: alice,
          msg: texts[k] as string,
          toPeerIds: [bob],
          i: 1000 + k,
        });
      }
      await a.conn.waitClose(10_000).catch(() => undefined);
      await killing;
      ctx.note(`killed with SIGKILL after ack ${killAt} of ${total}; ${acked.length} acks seen`);
      await control(ctx).restart();
      const b = await ctx.open(bob);
      const delivered = new Set<string>();
      for (const m of acked) {
        // Acked, then lost in a crash: the ack came before the commit [ACK-DURABLE-1].
        const f = await ctx.waitFor(
          "ACK-DURABLE-1",
          b.conn,
          (x) => x.cmd === "direct" && x.msg === m.text,
          `the pending "${m.text}" (acked before the crash)`,
        );
        delivered.add(String(f.id));
      }
      const page = await ctx.request("ACK-PROMISE-1", b.conn, {
        cmd: "logs",
        appId: ctx.appId(),
        peerId: bob,
        cid: conversationId([alice, bob]),
        limit: 1000,
      });
      const stored = new Set(
        ((page.logs as Record<string, unknown>[] | undefined) ?? []).map((i) =>
          String(i["msg-id"]),
        ),
      );
      for (const m of acked) {
        ctx.expect(
          "ACK-DURABLE-1",
          stored.has(m.id),
          `"${m.text}" was acked before the crash but is not in history after it`,
          {
            expected: `msg-id ${m.id} in the history`,
            actual: `${stored.size} items`,
          },
        );
      }
    },
  }),
  defineCase({
    name: "durability/crash/delivered-messages-survive",
    requirements: ["ACK-DURABLE-2"],
    needs: ["restart"],
    features: ["history"],
    timeoutMs: 60_000,
    async run(ctx) {
      // A message delivered to any session must be committed first [ACK-DURABLE-2]: kill
      // the server the moment the n-th live delivery reaches the recipient, then every
      // message the recipient saw must still be in history.
      const alice = ctx.peer("alice");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const c = await ctx.open(carol);
      const total = 20;
      const killAt = 1 + draw(ctx.seed, 2, total);
      const seen: string[] = [];
      let killing: Promise<void> | undefined;
      c.conn.onFrame((f) => {
        if (f.cmd !== "direct" || killing !== undefined) return;
        seen.push(String(f.id));
        if (seen.length === killAt) killing = control(ctx).kill();
      });
      for (let k = 0; k < total; k++) {
        a.conn.send({
          cmd: "direct",
          appId: ctx.appId(),
          peerId: alice,
          msg: `live-${k}`,
          toPeerIds: [carol],
          i: 2000 + k,
        });
      }
      await c.conn.waitClose(10_000).catch(() => undefined);
      await killing;
      ctx.note(
        `killed with SIGKILL at live delivery ${killAt} of ${total}; ${seen.length} deliveries seen`,
      );
      await control(ctx).restart();
      const c2 = await ctx.open(carol);
      const page = await ctx.request("ACK-DURABLE-2", c2.conn, {
        cmd: "logs",
        appId: ctx.appId(),
        peerId: carol,
        cid: conversationId([alice, carol]),
        limit: 1000,
      });
      const stored = new Set(
        ((page.logs as Record<string, unknown>[] | undefined) ?? []).map((i) =>
          String(i["msg-id"]),
        ),
      );
      for (const id of seen) {
        ctx.expect(
          "ACK-DURABLE-2",
          stored.has(id),
          `message ${id} was delivered before the crash but is gone after it`,
          {
            expected: `msg-id ${id} in the history`,
            actual: `${stored.size} items`,
          },
        );
      }
    },
  }),
  defineCase({
    name: "durability/crash/group-changes-survive",
    requirements: ["ROOM-DURABLE-1"],
    needs: ["restart"],
    features: ["groups"],
    timeoutMs: 60_000,
    async run(ctx) {
      const [owner, kept, kicked] = [ctx.peer("owner"), ctx.peer("kept"), ctx.peer("kicked")];
      const o = await ctx.open(owner);
      const joined = await ctx.request("ROOM-JOIN-1", o.conn, {
        cmd: "room",
        op: "join",
        appId: ctx.appId(),
        peerId: owner,
      });
      const roomId = String(joined.roomId);
      await ctx.request("ROOM-INVITE-1", o.conn, {
        cmd: "room",
        op: "invite",
        appId: ctx.appId(),
        peerId: owner,
        roomId,
        roomPeerIds: [kept, kicked],
      });
      const reply = await ctx.request("ROOM-KICK-1", o.conn, {
        cmd: "room",
        op: "kick",
        appId: ctx.appId(),
        peerId: owner,
        roomId,
        roomPeerIds: [kicked],
      });
      ctx.expect(
        "ROOM-KICK-1",
        reply.cmd === "room" && reply.op === "kicked",
        "room/kick was not answered with room/kicked",
        { actual: JSON.stringify(reply) },
      );
      // The reply came: the changes must be committed (ROOM-DURABLE-1). Kill at once.
      await control(ctx).kill();
      await control(ctx).restart();
      const o2 = await ctx.open(owner);
      const k = await ctx.open(kept);
      const x = await ctx.open(kicked);
      const sent = await ctx.request("ROOM-DURABLE-1", o2.conn, {
        cmd: "direct",
        appId: ctx.appId(),
        peerId: owner,
        roomId,
        msg: "after the crash",
      });
      ctx.expect(
        "ROOM-DURABLE-1",
        sent.cmd === "ack",
        "the group or its owner's membership did not survive the crash",
        { actual: JSON.stringify(sent) },
      );
      await ctx.waitFor(
        "ROOM-DURABLE-1",
        k.conn,
        (f) => f.cmd === "direct" && f.msg === "after the crash",
        "the group message to the invited member",
      );
      await ctx.expectNone(
        "ROOM-DURABLE-1",
        x.conn,
        (f) => f.cmd === "direct" && f.msg === "after the crash",
        "a group message to the member kicked before the crash",
        500,
      );
    },
  }),
  defineCase({
    name: "durability/crash/nonce-survives",
    requirements: ["SIG-NONCE-2"],
    needs: ["restart"],
    features: [],
    timeoutMs: 60_000,
    async run(ctx) {
      const peerId = ctx.peer("signer");
      const sig = ctx.sessionSignature({ peerId });
      const c1 = await ctx.connect();
      const first = await ctx.request("SIG-NONCE-2", c1, {
        cmd: "session",
        op: "open",
        appId: ctx.appId("signed"),
        peerId,
        ...sig,
      });
      ctx.expect(
        "SIG-NONCE-2",
        first.cmd === "session" && first.op === "opened",
        "a fresh signature was refused",
        { actual: JSON.stringify(first) },
      );
      await control(ctx).kill();
      await control(ctx).restart();
      const c2 = await ctx.connect();
      const again = await ctx.request("SIG-NONCE-2", c2, {
        cmd: "session",
        op: "open",
        appId: ctx.appId("signed"),
        peerId,
        ...sig,
      });
      ctx.expectError("SIG-NONCE-2", again, 4102);
    },
  }),
  defineCase({
    name: "durability/shutdown/closes-with-1001",
    requirements: ["ERROR-SHUTDOWN-1"],
    needs: ["restart"],
    timeoutMs: 60_000,
    async run(ctx) {
      const a = await ctx.open(ctx.peer("a"));
      const raw = await ctx.connect();
      const stopping = control(ctx).stop();
      await ctx.expectClose("ERROR-SHUTDOWN-1", a.conn, 1001, 10_000);
      await ctx.expectClose("ERROR-SHUTDOWN-1", raw, 1001, 10_000);
      const status = await stopping;
      ctx.note(`the server exited with ${status}`);
      await control(ctx).restart();
    },
  }),
  defineCase({
    name: "durability/property/model-run-with-crashes",
    requirements: [
      "ACK-DURABLE-1",
      "ACK-PROMISE-1",
      "ACK-PROMISE-2",
      "ROOM-DURABLE-1",
      "DIRECT-ONCE-1",
    ],
    needs: ["restart"],
    features: ["groups", "offline", "history"],
    timeoutMs: 170_000,
    async run(ctx) {
      const numRuns = ctx.property.numRuns ?? 6;
      const replay = ctx.property.replayPath?.split("@", 2);
      const outcome = await runProperty(
        ctx,
        {
          numRuns,
          maxCommands: 40,
          size: "medium",
          faults: true,
          crashes: control(ctx),
          seed: ctx.seed,
          ...(replay?.[0] !== undefined && { path: replay[0] }),
          ...(replay?.[1] !== undefined && { replayPath: replay[1] }),
        },
        ctx.limits().offlineCount ?? 50,
      );
      if (outcome.ok) {
        ctx.note(`${outcome.runs} runs: ${JSON.stringify(outcome.stats)}`);
        return;
      }
      for (const e of outcome.events) ctx.recorder.events.push(e);
      const traceFile = writeTrace(ctx.property.traceDir, "durability-property", outcome.trace);
      const token = `${outcome.seed}:${outcome.path}${outcome.replayPath === undefined ? "" : `@${outcome.replayPath}`}`;
      ctx.replay = {
        seed: outcome.seed,
        path: outcome.path,
        command: `confab-conformance server --profile durability --run 'durability/property/**' --replay ${token}`,
        traceFile,
      };
      const v = outcome.violation;
      throw new ServerFault(
        v.requirement,
        `${v.message} (shrunk to: ${outcome.commands}; trace ${traceFile})`,
        {
          ...(v.expected !== undefined && { expected: v.expected }),
          ...(v.actual !== undefined && { actual: v.actual }),
        },
      );
    },
  }),
];
