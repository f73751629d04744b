/**
 * The bare relay that the baselines B0, B1 and BF share: a `ws` server that speaks just
 * enough of the Confab wire for the benchmark's load generator to drive it exactly as it
 * drives the reference server, and nothing else: no validation, no limits, no watch sets,
 * no offline store, no history.
 *
 * - `session/open` → `session/opened` (the peer's sessions are looked up by peer id);
 *   `session/close` → `session/closed`; `{}` → `{}`.
 * - `direct` to `toPeerIds` → `ack` to the sender and a delivery to every session of each
 *   recipient; with `roomId` (rooms on) a delivery to every other member instead.
 * - `ack` from a client: parsed and dropped (the bare relay keeps no offline store).
 * - rooms on (BF): `room/join` without `roomId` creates a room, with it joins one, both
 *   replied with `room/joined`; `room/invite` adds members, replied with `room/invited`, and
 *   each new member gets `room/joined`.
 *
 * Durable (B1): every `direct` is inserted into SQLite (WAL, synchronous NORMAL, like the
 * reference server's default) in one transaction per event-loop turn (setImmediate), and
 * its ack and deliveries leave only after that commit, as the reference server does.
 *
 * It logs one JSON line `{"event":"listening","port":N}` on stdout when ready, and stops on
 * SIGTERM or SIGINT (exit 0).
 * @module
 */
import { WebSocketServer } from "ws";

/**
 * @typedef {{ ws: import("ws").WebSocket, peerId: string }} Session
 * @typedef {{ port?: number, host?: string, db?: string, rooms?: boolean }} RelayOptions
 */

/**
 * Starts a relay; resolves once it listens.
 * @param {RelayOptions} options `db` makes it durable (B1), `rooms` adds groups (BF).
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function startRelay(options = {}) {
  /** @type {Map<string, Set<import("ws").WebSocket>>} sockets of each peer's sessions */
  const peers = new Map();
  /** @type {Map<string, Set<string>>} members of each room */
  const rooms = new Map();
  let nextId = 1;
  let nextRoom = 1;

  /** The durable part (B1): the turn's messages, committed together. */
  const durable = options.db ? await openDurable(options.db) : undefined;

  /** @param {string} peerId @param {string} frame */
  const sendToPeer = (peerId, frame) => {
    const set = peers.get(peerId);
    if (set) for (const ws of set) ws.send(frame);
  };

  /**
   * A `direct`: an id, the ack, the deliveries; after the turn's commit when durable.
   * @param {import("ws").WebSocket} ws @param {any} f
   */
  const onDirect = (ws, f) => {
    const id = `m${nextId++}`;
    const t = Date.now();
    const ack = JSON.stringify({ cmd: "ack", peerId: f.peerId, i: f.i, t, uid: id });
    /** @type {string[]} */
    let recipients;
    let tail;
    if (f.roomId !== undefined) {
      recipients = [...(rooms.get(f.roomId) ?? [])].filter((p) => p !== f.peerId);
      tail = { roomId: f.roomId };
    } else {
      recipients = /** @type {string[]} */ (f.toPeerIds).filter((p) => p !== f.peerId);
      tail = { toPeerIds: recipients };
    }
    const release = () => {
      ws.send(ack);
      // The wire addresses each delivery to its session by peerId: the body is serialised
      // once and each recipient's frame is that body behind its own peerId, the cheapest
      // way to send what the protocol sends.
      const body = JSON.stringify({
        id,
        msg: f.msg,
        fromPeerId: f.peerId,
        timestamp: t,
        offline: false,
        ...tail,
      });
      const rest = `,${body.slice(1)}`;
      for (const p of recipients)
        sendToPeer(p, `{"cmd":"direct","peerId":${JSON.stringify(p)}${rest}`);
    };
    if (durable)
      durable.add([id, f.roomId ?? null, f.peerId, recipients.join(","), f.msg, t], release);
    else release();
  };

  /** @param {import("ws").WebSocket} ws @param {any} f */
  const onRoom = (ws, f) => {
    if (f.op === "join") {
      const roomId = f.roomId ?? `room${nextRoom++}`;
      if (!rooms.has(roomId)) rooms.set(roomId, new Set());
      rooms.get(roomId)?.add(f.peerId);
      const reply = {
        cmd: "room",
        op: "joined",
        peerId: f.peerId,
        i: f.i,
        roomId,
        byPeerId: f.peerId,
      };
      ws.send(JSON.stringify(reply));
    } else if (f.op === "invite") {
      const members = rooms.get(f.roomId);
      if (!members) return;
      /** @type {string[]} */
      const added = f.roomPeerIds.filter((/** @type {string} */ p) => !members.has(p));
      for (const p of added) members.add(p);
      const reply = { cmd: "room", op: "invited", peerId: f.peerId, i: f.i, roomId: f.roomId };
      ws.send(JSON.stringify({ ...reply, roomPeerIds: added }));
      for (const p of added) {
        const ev = { cmd: "room", op: "joined", peerId: p, roomId: f.roomId, byPeerId: f.peerId };
        sendToPeer(p, JSON.stringify(ev));
      }
    }
  };

  const wss = new WebSocketServer({
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    perMessageDeflate: false,
  });
  wss.on("connection", (ws) => {
    /** @type {Set<string>} the peers with a session on this socket */
    const mine = new Set();
    ws.on("message", (data) => {
      let f;
      try {
        f = JSON.parse(String(data));
      } catch {
        return;
      }
      switch (f.cmd) {
        case "direct":
          onDirect(ws, f);
          break;
        case "ack":
          break; // nothing is pending in a bare relay
        case "session":
          if (f.op === "open") {
            mine.add(f.peerId);
            const set = peers.get(f.peerId) ?? new Set();
            peers.set(f.peerId, set);
            set.add(ws);
            ws.send(JSON.stringify({ cmd: "session", op: "opened", peerId: f.peerId, i: f.i }));
          } else if (f.op === "close") {
            mine.delete(f.peerId);
            peers.get(f.peerId)?.delete(ws);
            ws.send(JSON.stringify({ cmd: "session", op: "closed", peerId: f.peerId, i: f.i }));
          }
          break;
        case "room":
          if (options.rooms) onRoom(ws, f);
          break;
        case undefined:
          ws.send("{}");
          break;
      }
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      for (const p of mine) {
        const set = peers.get(p);
        set?.delete(ws);
        if (set?.size === 0) peers.delete(p);
      }
    });
  });
  await new Promise((res, rej) => {
    wss.once("listening", res);
    wss.once("error", rej);
  });
  const address = /** @type {import("node:net").AddressInfo} */ (wss.address());
  return {
    port: address.port,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((res) => wss.close(() => res(undefined)));
      durable?.close();
    },
  };
}

/**
 * B1's durability: a SQLite database in WAL mode and a queue of the turn's messages,
 * inserted in one transaction at setImmediate; each message's release (its ack and
 * deliveries) runs after the commit.
 * @param {string} path
 */
async function openDurable(path) {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, room_id TEXT, from_peer TEXT NOT NULL, to_peers TEXT NOT NULL,
    msg TEXT NOT NULL, timestamp INTEGER NOT NULL) WITHOUT ROWID`);
  const insert = db.prepare(
    "INSERT INTO messages (id, room_id, from_peer, to_peers, msg, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
  );
  /** @type {{ row: unknown[], release: () => void }[]} */
  let queue = [];
  /** @type {NodeJS.Immediate | undefined} */
  let scheduled;
  const commit = db.transaction((/** @type {{ row: unknown[] }[]} */ batch) => {
    for (const m of batch) insert.run(...m.row);
  });
  const flush = () => {
    scheduled = undefined;
    const batch = queue;
    queue = [];
    commit(batch);
    for (const m of batch) m.release();
  };
  return {
    /** @param {unknown[]} row @param {() => void} release */
    add(row, release) {
      queue.push({ row, release });
      scheduled ??= setImmediate(flush);
    },
    close() {
      if (scheduled) {
        clearImmediate(scheduled);
        flush();
      }
      db.close();
    },
  };
}

/**
 * Runs a relay as a process: `--port N` (0), `--db PATH` (durable), `--rooms`; logs the
 * listening line and stops on SIGTERM or SIGINT.
 * @param {RelayOptions} defaults what the entry script fixes (`rooms` for BF)
 */
export async function main(defaults = {}) {
  const args = process.argv.slice(2);
  const value = (/** @type {string} */ name) => {
    const k = args.indexOf(name);
    return k >= 0 ? args[k + 1] : undefined;
  };
  const relay = await startRelay({
    ...defaults,
    port: Number(value("--port") ?? 0),
    ...(value("--db") !== undefined && { db: value("--db") }),
    ...(args.includes("--rooms") && { rooms: true }),
  });
  process.stdout.write(`${JSON.stringify({ event: "listening", port: relay.port })}\n`);
  const stop = () => {
    relay.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
