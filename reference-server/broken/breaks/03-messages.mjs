/**
 * Broken servers of chapter 03 (direct messages): acks and durability, delivery, echo,
 * transient messages, the offline store and receipts.
 * @module
 */
import { conversationId } from "@confab/protocol";
import { CommandContext } from "../../dist/src/core/context.js";
import { deliveryFrame } from "../../dist/src/core/delivery.js";
import { SqliteStore } from "../../dist/src/store/sqlite-store.js";
import {
  currentCommand,
  filterOutputs,
  mapFrames,
  onCommand,
  recipientsOf,
  wrap,
  wrapStores,
} from "../lib/hooks.mjs";

/** How long the crash-prone store keeps its writes uncommitted, ms. */
const COMMIT_DELAY_MS = 2000;
/** How long a reordered delivery waits for the next one at most, ms (then it goes alone). */
const HOLD_MS = 300;

/** Whether a frame is the live delivery of a message (not the offline burst). */
const isLiveDelivery = (frame) => frame.cmd === "direct" && frame.offline === false;

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * RECEIPT-SEND-1: the `rcp` of a message that asks for one (`r: true`, one recipient)
   * goes to the sender's sessions right after its `ack`, when the message is accepted,
   * before it is delivered to anyone and even when the recipient is offline, instead of
   * when the recipient acknowledges it. The recipient's later `ack` sends no second `rcp`
   * (RECEIPT-ONCE-1 holds); messages without a receipt request get none (RECEIPT-IGNORE-1).
   */
  "receipt-before-delivery": () => {
    onCommand({});
    /** Messages whose receipt went out at send time: `app\nid`. */
    const early = new Set();
    wrap(
      CommandContext.prototype,
      "reply",
      (original) =>
        function reply(frame) {
          original.call(this, frame);
          const c = currentCommand();
          if (frame.cmd !== "ack" || c?.cmd.name !== "direct") return;
          const f = c.frame;
          if (f.r !== true || f.transient === true || f.roomId !== undefined) return;
          if (recipientsOf(f).length !== 1) return;
          early.add(`${this.appConfig.appId}\n${frame.uid}`);
          this.sendToPeer(this.peerId, { cmd: "rcp", id: frame.uid, t: this.now });
        },
    );
    // The acknowledgement then finds no receipt request to act on.
    wrapStores(
      "getMessage",
      (original) =>
        function getMessage(appId, messageId) {
          const m = original.call(this, appId, messageId);
          return m && early.has(`${appId}\n${messageId}`) ? { ...m, receipt: false } : m;
        },
    );
  },

  /**
   * OFFLINE-LIMIT-1: a peer's offline store that holds its limit of pending messages drops
   * the new message (the newest) instead of evicting the oldest one. The message is still
   * acknowledged, stored in history and delivered live to open sessions.
   */
  "offline-evicts-newest": () => {
    wrapStores(
      "addPending",
      (original) =>
        function addPending(appId, peerId, messageId, timestamp, limit) {
          const pending = this.pendingFor(appId, peerId, 0); // 0: expires nothing
          if (pending.some((m) => m.id === messageId)) return undefined;
          if (pending.length >= Math.max(0, Math.floor(limit))) return undefined;
          return original.call(this, appId, peerId, messageId, timestamp, limit);
        },
    );
  },

  /**
   * ACK-DURABLE-1: the SQLite store defers by two seconds every commit that holds a
   * message, so its `ack` (and its deliveries) leave before the message is durable, and a
   * `kill -9` in that window loses acknowledged messages. Commits without a message (group
   * changes, nonces, acks of deliveries) are immediate unless they share a deferred
   * transaction, and a graceful stop commits everything (close commits first). With
   * `--db :memory:` nothing is durable anyway: run it with a database file.
   */
  "acked-message-lost-on-crash": () => {
    const commitNow = SqliteStore.prototype.commit;
    /** Stores whose open transaction holds a message. */
    const holdsMessage = new Set();
    const timers = new Map();
    const closed = new Set();
    for (const name of ["insertMessage", "addPending"]) {
      wrap(
        SqliteStore.prototype,
        name,
        (original) =>
          function write(...args) {
            holdsMessage.add(this);
            return original.apply(this, args);
          },
      );
    }
    wrap(
      SqliteStore.prototype,
      "commit",
      () =>
        function commit() {
          if (closed.has(this) || timers.has(this)) return;
          if (!holdsMessage.has(this)) {
            commitNow.call(this);
            return;
          }
          const timer = setTimeout(() => {
            timers.delete(this);
            holdsMessage.delete(this);
            try {
              commitNow.call(this);
            } catch (err) {
              process.stderr.write(`broken server: deferred commit failed: ${String(err)}\n`);
            }
          }, COMMIT_DELAY_MS);
          timers.set(this, timer);
        },
    );
    wrap(
      SqliteStore.prototype,
      "close",
      (original) =>
        function close() {
          // A graceful stop loses nothing: commit what is deferred, then close.
          clearTimeout(timers.get(this));
          timers.delete(this);
          if (this.db?.open) commitNow.call(this);
          closed.add(this);
          return original.call(this);
        },
    );
  },

  /**
   * ACK-REMOVE-1: a client `ack` removes nothing from the peer's offline store, so an
   * acknowledged message is delivered again (`offline: true`) after every later
   * `session/open`, until it is evicted or expires. The first `ack` of a pending id is
   * otherwise handled as in the reference (it sends the receipt, RECEIPT-SEND-1); later
   * ones are ignored (ACK-IGNORE-1, RECEIPT-ONCE-1).
   */
  "acked-message-replayed": () => {
    /** `app\npeer\nid` of the pending entries acknowledged once. */
    const acked = new Set();
    wrapStores(
      "removePending",
      () =>
        function removePending(appId, peerId, messageIds) {
          const pending = new Set(this.pendingFor(appId, peerId, 0).map((m) => m.id));
          const fresh = [...new Set(messageIds)].filter(
            (id) => pending.has(id) && !acked.has(`${appId}\n${peerId}\n${id}`),
          );
          for (const id of fresh) acked.add(`${appId}\n${peerId}\n${id}`);
          return fresh;
        },
    );
  },

  /**
   * TRANSIENT-HISTORY-1: a transient message is written to history (with its id, sender,
   * recipients and conversation) once it is delivered, so history queries return it. It
   * is still not pending for anyone, not acknowledged without `i` and delivered to open
   * sessions only.
   */
  "transient-in-history": () => {
    onCommand({
      after({ engine, conn, frame, cmd, notes }) {
        if (cmd.name !== "direct" || frame.transient !== true || !notes.accepted) return;
        const { id, timestamp } = notes.accepted;
        const roomId = typeof frame.roomId === "string" ? frame.roomId : undefined;
        const toPeerIds = roomId === undefined ? recipientsOf(frame) : [];
        try {
          engine.store.insertMessage({
            id,
            appId: conn.appId,
            cid: roomId ?? conversationId([frame.peerId, ...toPeerIds]),
            fromPeerId: frame.peerId,
            toPeerIds,
            roomId,
            msg: frame.msg,
            timestamp,
            receipt: false,
          });
        } catch (err) {
          process.stderr.write(`broken server: could not store a transient message: ${err}\n`);
        }
      },
    });
  },

  /**
   * DIRECT-ONCE-1: every live delivery is sent twice to its session (the same frame, the
   * same id). The offline burst is as in the reference.
   */
  "live-delivered-twice": () => {
    mapFrames((frame) => (isLiveDelivery(frame) ? [frame, frame] : frame));
  },

  /**
   * DIRECT-ORDER-1: of two messages one sender sends to a session, the second is
   * delivered first: a live delivery is held back until the next one from the same sender
   * to the same session (or for at most about a second, then it goes alone).
   */
  "per-sender-order-broken": () => {
    /** Held deliveries by connection, recipient and sender. */
    const held = new Map();
    filterOutputs((outputs) => {
      const now = Date.now();
      const out = [];
      for (const o of outputs) {
        if (o.type !== "send" || !isLiveDelivery(o.frame)) {
          out.push(o);
          continue;
        }
        const key = `${o.conn}\n${o.frame.peerId}\n${o.frame.fromPeerId}`;
        const first = held.get(key);
        if (first) {
          held.delete(key);
          out.push(o, first.output);
        } else {
          held.set(key, { output: o, at: now });
        }
      }
      for (const [key, h] of held) {
        if (now - h.at >= HOLD_MS) {
          held.delete(key);
          out.push(h.output);
        }
      }
      return out;
    });
  },

  /**
   * ECHO-NOTSELF-1: a session that has echo enabled gets the messages it sends itself
   * delivered back, right after their `ack`, as an s2c `direct` from its own peer (as if it
   * were one of the peer's other sessions). Sessions without echo get nothing
   * (ECHO-OFF-1 holds); messages without an `ack` (transient ones without `i`) are not
   * echoed back.
   */
  "echo-to-sending-session": () => {
    onCommand({});
    wrap(
      CommandContext.prototype,
      "reply",
      (original) =>
        function reply(frame) {
          original.call(this, frame);
          const c = currentCommand();
          const session = this.session;
          if (frame.cmd !== "ack" || c?.cmd.name !== "direct" || session?.echo !== true) return;
          const f = c.frame;
          const message = {
            id: frame.uid,
            msg: f.msg,
            fromPeerId: this.peerId,
            timestamp: frame.t,
            roomId: typeof f.roomId === "string" ? f.roomId : undefined,
            toPeerIds: recipientsOf(f),
          };
          this.sendTo(session, deliveryFrame(message, false, f.transient === true));
        },
    );
  },

  /**
   * DIRECT-DELIVER-2: live deliveries carry `offline: true`, as if they came from the
   * offline store. Everything else about them is right.
   */
  "live-delivery-marked-offline": () => {
    mapFrames((frame) => (isLiveDelivery(frame) ? { ...frame, offline: true } : frame));
  },

  /**
   * TRANSIENT-ACK-1: a transient `direct` without `i` is answered with an `ack` (message id
   * and acceptance time), which the legacy client would match to its next persistent send.
   */
  "transient-acked-without-serial": () => {
    onCommand({
      after({ engine, conn, frame, cmd, notes }) {
        if (cmd.name !== "direct" || frame.transient !== true || cmd.hasSerial) return;
        if (!notes.accepted) return;
        const { id, timestamp } = notes.accepted;
        const ack = { cmd: "ack", t: timestamp, uid: id, peerId: frame.peerId };
        engine.push({ type: "send", conn: conn.id, frame: ack });
      },
    });
  },

  /**
   * OFFLINE-OPEN-1: a re-open (`session/open` of a peer that already has a session on the
   * connection) is answered with `session/opened` but not followed by the peer's pending
   * messages; a first open delivers them as usual.
   */
  "offline-not-delivered-on-reopen": () => {
    onCommand({
      before({ conn, frame, cmd, notes }) {
        if (cmd.name === "session/open" && typeof frame.peerId === "string") {
          notes.reopen = conn.sessions.has(frame.peerId);
        }
      },
    });
    wrapStores(
      "pendingFor",
      (original) =>
        function pendingFor(appId, peerId, notBefore) {
          if (currentCommand()?.notes.reopen === true) return [];
          return original.call(this, appId, peerId, notBefore);
        },
    );
  },
};
