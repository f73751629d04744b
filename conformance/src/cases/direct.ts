/**
 * Cases of chapter 03, direct messages: delivery, acks, echo, transient messages, the
 * offline store, receipts.
 * @module
 */
import { defineCase, type ServerCase } from "../case.js";

/** The direct-message cases. */
export const CASES: readonly ServerCase[] = [
  defineCase({
    name: "direct/send/delivers-live-to-every-session",
    requirements: ["DIRECT-DELIVER-1", "DIRECT-DELIVER-2", "DIRECT-ID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const b2 = await ctx.open(bob);
      const ack = await ctx.request("ACK-REPLY-1", a.conn, {
        cmd: "direct",
        appId: ctx.appId(),
        peerId: alice,
        msg: "hello",
        toPeerIds: [bob],
      });
      for (const b of [b1, b2]) {
        const got = await ctx.waitFor("DIRECT-DELIVER-1", b.conn, (f) => f.cmd === "direct" && f.msg === "hello", "the delivery of hello");
        ctx.expect("DIRECT-DELIVER-2", got.offline !== true, "a live delivery carries offline: true", { actual: JSON.stringify(got) });
        ctx.expectEqual("DIRECT-ID-1", got.id, ack.uid, "the delivered id against the ack's uid");
      }
    },
  }),
  defineCase({
    name: "direct/send/not-to-others",
    requirements: ["DIRECT-ONLY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      await ctx.open(bob);
      const carol = await ctx.open(ctx.peer("carol"));
      await ctx.request("ACK-REPLY-1", a.conn, { cmd: "direct", appId: ctx.appId(), peerId: alice, msg: "for bob", toPeerIds: [bob] });
      await ctx.expectNone("DIRECT-ONLY-1", carol.conn, (f) => f.cmd === "direct", "a delivery to a peer not named");
    },
  }),
];
