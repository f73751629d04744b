// The unmodified legacy client lean-cloud-chat@1.0.4 against the reference server over real
// sockets: the wire-compatibility promise of VERSION-LEGACY-1, end to end.
import {
  closeLegacyClient,
  groupSignature,
  type LegacyClient,
  type LegacyClientEvents,
  type LegacyModule,
  loadLegacyClient,
  sessionSignature,
  TEST_MASTER_KEY,
} from "@confab/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";

type EventName = keyof LegacyClientEvents;

/** Records a client's events so a test can await the next one of a kind. */
class Recorder {
  private readonly seen: { name: EventName; value: unknown }[] = [];
  private readonly waiters: { name: EventName; resolve: (v: unknown) => void }[] = [];

  constructor(readonly client: LegacyClient) {
    for (const name of [
      "online",
      "offline",
      "message",
      "joined",
      "left",
      "membersJoined",
      "membersLeft",
      "close",
    ] as const) {
      client.on(name, (value: unknown) => {
        const w = this.waiters.findIndex((x) => x.name === name);
        if (w >= 0) this.waiters.splice(w, 1)[0]?.resolve(value);
        else this.seen.push({ name, value });
      });
    }
  }

  /** The next event of this name (already seen, or within 3 s). */
  next<T = Record<string, unknown>>(name: EventName): Promise<T> {
    const i = this.seen.findIndex((x) => x.name === name);
    if (i >= 0) return Promise.resolve(this.seen.splice(i, 1)[0]?.value as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${name} event within 3 s`)), 3000);
      this.waiters.push({
        name,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
      });
    });
  }

  /** Events not consumed yet. */
  pending(): string[] {
    return this.seen.map((x) => x.name);
  }
}

const APP = "legacyapp";
const clients: LegacyClient[] = [];

async function client(chat: LegacyModule, peerId: string, watch: string[] = [], extra = {}) {
  const c = chat({ appId: APP, peerId, watchingPeerIds: watch, ...extra });
  clients.push(c);
  const r = new Recorder(c);
  const opened = await c.open();
  return { c, r, opened };
}

describe("legacy client lean-cloud-chat@1.0.4 against the reference server", () => {
  let server: RunningServer;
  let chat: LegacyModule;

  beforeAll(async () => {
    server = await startServer({ host: "127.0.0.1", port: 0, db: ":memory:" });
    chat = loadLegacyClient({ routerUrl: server.url });
  });

  afterAll(async () => {
    for (const c of clients) await closeLegacyClient(c).catch(() => undefined);
    await server?.close();
  });

  it("[VERSION-LEGACY-1, SESSION-OPEN-2, PRESENCE-ON-2, PRESENCE-OFF-1] opens with a watch list and sees presence on and off", async () => {
    const alice = await client(chat, "alice", ["bob"]);
    expect(alice.opened).toMatchObject({ cmd: "session", op: "opened", onlineSessionPeerIds: [] });
    await alice.r.next("online"); // chat.js emits online for the opened reply itself
    const bob = await client(chat, "bob", ["alice"]);
    expect(bob.opened.onlineSessionPeerIds).toEqual(["alice"]);
    expect(await alice.r.next<string[]>("online")).toEqual(["bob"]);
    await closeLegacyClient(bob.c);
    expect(await alice.r.next<string[]>("offline")).toEqual(["bob"]);
    await closeLegacyClient(alice.c);
  });

  it("[VERSION-LEGACY-1, DIRECT-DELIVER-1, ACK-REPLY-1, TRANSIENT-ACK-1] sends and receives persistent and transient messages", async () => {
    const carol = await client(chat, "carol", ["dave"]);
    const dave = await client(chat, "dave", ["carol"]);
    const ack = await carol.c.send("hello dave", "dave");
    expect(ack).toMatchObject({ cmd: "ack", peerId: "carol" });
    const msg = await dave.r.next("message");
    expect(msg).toMatchObject({
      cmd: "direct",
      msg: "hello dave",
      fromPeerId: "carol",
      id: ack?.uid,
    });
    // A transient send resolves at once (no ack without i) and still arrives.
    expect(await carol.c.send("typing", "dave", true)).toBeUndefined();
    expect(await dave.r.next("message")).toMatchObject({ msg: "typing", transient: true });
    // The reply to the next awaited command is still matched in order: no stray ack came.
    expect(await carol.c.getStatus(["dave", "nobody"])).toMatchObject({
      op: "query-result",
      onlineSessionPeerIds: ["dave"],
    });
  });

  it("[VERSION-LEGACY-1, WATCH-ADD-1, WATCH-REMOVE-1, WATCH-QUERY-1] watches, unwatches and queries status", async () => {
    const erin = await client(chat, "erin");
    expect(await erin.r.next<string[]>("online")).toEqual([]); // the opened reply
    const added = await erin.c.watch(["frank"]);
    expect(added).toMatchObject({ op: "added", onlineSessionPeerIds: [] });
    const frank = await client(chat, "frank");
    expect(await erin.r.next<string[]>("online")).toEqual([]); // the added reply
    expect(await erin.r.next<string[]>("online")).toEqual(["frank"]);
    await erin.c.unwatch(["frank"]);
    // After unwatching, frank's departure is not reported; a query still answers.
    expect(await erin.c.getStatus("frank")).toMatchObject({ onlineSessionPeerIds: ["frank"] });
    await closeLegacyClient(frank.c);
    expect(await erin.c.getStatus("frank")).toMatchObject({ onlineSessionPeerIds: [] });
    expect(erin.r.pending()).not.toContain("offline");
  });

  it("[VERSION-LEGACY-1, OFFLINE-OPEN-1, OFFLINE-PENDING-1] delivers a message sent while the recipient was offline on its next open", async () => {
    const gina = await client(chat, "gina");
    await gina.c.send("while you were away", "hank");
    const hank = await client(chat, "hank");
    expect(await hank.r.next("message")).toMatchObject({
      msg: "while you were away",
      fromPeerId: "gina",
      offline: true,
    });
  });

  it("[VERSION-LEGACY-1, ROOM-CREATE-1, ROOM-INVITE-1, ROOM-KICK-1, ROOM-LEAVE-1, ROOM-MSG-1] creates a group, invites, messages, kicks and leaves with the events each member sees", async () => {
    const ivan = await client(chat, "ivan");
    const judy = await client(chat, "judy");
    const ken = await client(chat, "ken");

    const created = await ivan.c.joinGroup();
    const roomId = created.roomId as string;
    expect(created).toMatchObject({ op: "joined", byPeerId: "ivan" });
    expect(await ivan.r.next("joined")).toMatchObject({ roomId });

    const invited = await ivan.c.inviteToGroup(roomId, ["judy", "ken"]);
    expect(invited).toMatchObject({ op: "invited", roomId, roomPeerIds: ["judy", "ken"] });
    expect(await judy.r.next("joined")).toMatchObject({ roomId, byPeerId: "ivan" });
    expect(await ken.r.next("joined")).toMatchObject({ roomId, byPeerId: "ivan" });

    const ack = await judy.c.sendToGroup("hi all", roomId);
    expect(ack).toMatchObject({ cmd: "ack" });
    expect(await ivan.r.next("message")).toMatchObject({
      msg: "hi all",
      roomId,
      fromPeerId: "judy",
    });
    expect(await ken.r.next("message")).toMatchObject({ msg: "hi all", roomId });

    expect(await ivan.c.kickFromGroup(roomId, ["ken"])).toMatchObject({
      op: "kicked",
      roomPeerIds: ["ken"],
    });
    expect(await ken.r.next("left")).toMatchObject({ roomId, byPeerId: "ivan" });
    expect(await judy.r.next("membersLeft")).toMatchObject({
      roomPeerIds: ["ken"],
      byPeerId: "ivan",
    });

    expect(await judy.c.leaveGroup(roomId)).toMatchObject({ op: "left", roomId });
    expect(await ivan.r.next("membersLeft")).toMatchObject({
      roomPeerIds: ["judy"],
      byPeerId: "judy",
    });

    // Joining again by id: the others see members-joined.
    expect(await judy.c.joinGroup(roomId)).toMatchObject({ op: "joined", roomId });
    expect(await ivan.r.next("membersJoined")).toMatchObject({
      roomPeerIds: ["judy"],
      byPeerId: "judy",
    });
  });

  it("[ECHO-OFF-1, VERSION-LEGACY-1] never shows the legacy client its own sends: the same peer open on two connections gets no echo", async () => {
    // chat.js emits `message` for every delivered direct, whatever its fromPeerId, so an
    // echo would show a message sent from one device as received on the other.
    const phone = await client(chat, "nora");
    const laptop = await client(chat, "nora");
    const olga = await client(chat, "olga");
    const ack = await phone.c.send("sent from the phone", "olga");
    expect(await olga.r.next("message")).toMatchObject({ fromPeerId: "nora", id: ack?.uid });
    await phone.c.send("typing", "olga", true);
    expect(await olga.r.next("message")).toMatchObject({ transient: true });
    const room = (await phone.c.joinGroup()).roomId as string;
    await phone.c.inviteToGroup(room, ["olga"]);
    await phone.c.sendToGroup("to the group", room);
    expect(await olga.r.next("message")).toMatchObject({ roomId: room, fromPeerId: "nora" });
    // A reply on each of nora's connections comes after any frame the sends caused there.
    await laptop.c.getStatus(["olga"]);
    await phone.c.getStatus(["olga"]);
    expect(laptop.r.pending()).not.toContain("message");
    expect(phone.r.pending()).not.toContain("message");
  });

  it("[VERSION-LEGACY-1, KEEPALIVE-REPLY-1] closes cleanly: session/close then socket close, and the peer goes offline", async () => {
    const leo = await client(chat, "leo", ["mia"]);
    const mia = await client(chat, "mia");
    await leo.r.next("online");
    await closeLegacyClient(mia.c);
    expect(await leo.r.next<string[]>("offline")).toEqual(["mia"]);
  });
});

describe("legacy client with signatures enforced", () => {
  let server: RunningServer;
  let chat: LegacyModule;

  beforeAll(async () => {
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      db: ":memory:",
      apps: [{ appId: APP, masterKey: TEST_MASTER_KEY, enforceSignatures: true }],
    });
    chat = loadLegacyClient({ routerUrl: server.url });
  });

  afterAll(async () => {
    await server?.close();
  });

  const auth = async (peerId: string, watchingPeerIds: string[]) => {
    const sig = sessionSignature({ appId: APP, peerId, watchPeerIds: watchingPeerIds });
    return { watchingPeerIds, ...sig };
  };
  const groupAuth = async (
    peerId: string,
    groupId: string | undefined,
    action: "join" | "invite" | "kick",
    groupPeerIds: string[],
  ) => {
    const sig = groupSignature({
      appId: APP,
      peerId,
      action,
      roomId: groupId,
      roomPeerIds: groupPeerIds,
    });
    return { groupPeerIds, ...sig };
  };

  it("[SIG-SESSION-1, SIG-GROUP-1, VERSION-LEGACY-1] opens, watches and creates a group with signatures from its auth hooks", async () => {
    const a = await client(chat, "sig-a", ["sig-b"], { auth, groupAuth });
    expect(a.opened).toMatchObject({ op: "opened" });
    const b = await client(chat, "sig-b", ["sig-a"], { auth, groupAuth });
    await a.c.send("signed hello", "sig-b");
    expect(await b.r.next("message")).toMatchObject({ msg: "signed hello" });
    const g = await a.c.joinGroup();
    expect(await a.c.inviteToGroup(g.roomId as string, ["sig-b"])).toMatchObject({ op: "invited" });
  });

  it("[SESSION-OPEN-4, SIG-ENFORCE-1] sees its connection closed with 4102 when it opens without a signature", async () => {
    const c = chat({ appId: APP, peerId: "unsigned" });
    clients.push(c);
    const r = new Recorder(c);
    await expect(c.open()).rejects.toBeUndefined();
    expect(await r.next<{ code: number }>("close")).toMatchObject({ code: 4102 });
  });
});
