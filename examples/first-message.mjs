#!/usr/bin/env node
// A first conversation with a Confab server, frame by frame: two peers open sessions,
// alice sends bob a message and gets the server's ack, bob receives it and acknowledges
// it, and alice reads it back from history. Every frame sent (→) and received (←) is
// printed. Start a server first (`npm start`), then: node examples/first-message.mjs
// [ws://127.0.0.1:8080]. The same frames, one per message, are in schemas/fixtures.
import { createHash } from "node:crypto";
import WebSocket from "ws";

const url = process.argv[2] ?? "ws://127.0.0.1:8080";
const appId = "demo";

/** A connection that prints its traffic and hands out the next frame that matches. */
async function connect(name) {
  const ws = new WebSocket(url);
  const inbox = [];
  const waiting = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data));
    console.log(`${name} ← ${JSON.stringify(frame)}`);
    inbox.push(frame);
    for (const w of waiting.splice(0)) w();
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    send(frame) {
      console.log(`${name} → ${JSON.stringify(frame)}`);
      ws.send(JSON.stringify(frame));
    },
    /** The first received frame for which `match` holds (waits at most 5 s). */
    async next(match) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const k = inbox.findIndex(match);
        if (k >= 0) return inbox.splice(k, 1)[0];
        if (Date.now() > deadline) throw new Error(`${name}: nothing matching arrived`);
        await new Promise((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => ws.close(),
  };
}

const [alice, bob] = await Promise.all([connect("alice"), connect("bob")]).catch((err) => {
  console.error(`cannot connect to ${url} (${err.message}): is a server running? (npm start)`);
  process.exit(1);
});

// 1. Sessions. `i` is optional; with it, every command gets exactly one reply echoing it.
alice.send({ cmd: "session", op: "open", appId, peerId: "alice", sessionPeerIds: ["bob"], i: 1 });
await alice.next((f) => f.op === "opened");
bob.send({ cmd: "session", op: "open", appId, peerId: "bob", sessionPeerIds: [], i: 1 });
await bob.next((f) => f.op === "opened");
await alice.next((f) => f.cmd === "presence"); // bob is online now: alice watches him

// 2. A message. The ack means it is stored: it survives a crash of the server.
alice.send({ cmd: "direct", appId, peerId: "alice", toPeerIds: ["bob"], msg: "hello, bob", i: 2 });
const ack = await alice.next((f) => f.cmd === "ack" && f.i === 2);

// 3. The delivery, and bob's ack of it: until then it stays in his offline store.
const delivery = await bob.next((f) => f.cmd === "direct" && f.id === ack.uid);
bob.send({ cmd: "ack", appId, peerId: "bob", ids: [delivery.id] });

// 4. History of the conversation: its id is the md5 of the sorted peer ids.
const cid = createHash("md5").update(["alice", "bob"].sort().join(":")).digest("hex");
alice.send({ cmd: "logs", appId, peerId: "alice", cid, limit: 5, i: 3 });
const page = await alice.next((f) => f.cmd === "logs" && f.i === 3);
if (!page.logs.some((item) => item["msg-id"] === ack.uid)) throw new Error("not in history");

alice.close();
bob.close();
console.log("done: sent, acknowledged, delivered, acknowledged by bob, and found in history");
