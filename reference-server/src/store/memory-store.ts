/**
 * The in-memory {@link Store}, for tests: plain Maps, nothing durable. It behaves exactly like
 * `SqliteStore` (orders, eviction, expiry, nonce rules, and the same failures where
 * SQLite's constraints would throw), because the protocol tests run on it and must tell the
 * truth about the real server; one contract suite runs against both.
 * @module
 */

import type { HistoryQuery, Store, StoredMessage } from "./store.js";

/** How many expired nonces one {@link MemoryStore.useNonce} call deletes at most. */
const NONCE_PURGE_BATCH = 16;

interface Room {
  readonly createdAt: number;
  /** A Set iterates in insertion order: deleting then re-adding a peer moves it to the end. */
  readonly members: Set<string>;
}

/** Everything of one app: apps share nothing. */
interface AppData {
  readonly messages: Map<string, StoredMessage>;
  /** cid → peers that sent or received a message of it. */
  readonly participants: Map<string, Set<string>>;
  /** peer → message id → message timestamp. */
  readonly pending: Map<string, Map<string, number>>;
  readonly rooms: Map<string, Room>;
  /** nonce → expiry (ms). */
  readonly nonces: Map<string, number>;
  /** Pending entries over all peers, kept with every change, as SqliteStore keeps its counts. */
  pendingRows: number;
}

interface NonceExpiry {
  readonly expiresAt: number;
  readonly appId: string;
  readonly nonce: string;
}

/** A pending entry as the sweep orders them, like SQLite's pending_by_expiry index. */
interface PendingExpiry {
  readonly timestamp: number;
  readonly appId: string;
  readonly peerId: string;
  readonly messageId: string;
}

/** The in-memory {@link Store}. `commit` and `close` do nothing: there is nothing to make durable. */
export class MemoryStore implements Store {
  private readonly apps = new Map<string, AppData>();
  /**
   * A binary min-heap of recorded nonces by expiry, so a purge finds expired nonces without a
   * scan, like SQLite's index on expires_at. An entry may be stale (its nonce was revived
   * with a later expiry); the purge checks the map's current value before deleting.
   */
  private readonly nonceHeap: NonceExpiry[] = [];
  /**
   * A binary min-heap of pending entries by (timestamp, app, peer, message id), so a sweep
   * finds the oldest without a scan, like SQLite's pending_by_expiry index. An entry is
   * stale once its pending entry was removed (acked, evicted, expired): the sweep skips
   * those, checking the maps [OFFLINE-SWEEP-1].
   */
  private readonly pendingHeap: PendingExpiry[] = [];

  private app(appId: string): AppData {
    let data = this.apps.get(appId);
    if (data === undefined) {
      data = {
        messages: new Map(),
        participants: new Map(),
        pending: new Map(),
        rooms: new Map(),
        nonces: new Map(),
        pendingRows: 0,
      };
      this.apps.set(appId, data);
    }
    return data;
  }

  /** {@inheritDoc Store.insertMessage} */
  insertMessage(message: StoredMessage): void {
    const data = this.app(message.appId);
    // SQLite's primary key (app, id) rejects a second message with the same id.
    if (data.messages.has(message.id)) {
      throw new Error(`UNIQUE constraint failed: message ${message.id} exists`);
    }
    data.messages.set(message.id, copy(message));
    let peers = data.participants.get(message.cid);
    if (peers === undefined) {
      peers = new Set();
      data.participants.set(message.cid, peers);
    }
    for (const peer of participantsOf(message)) peers.add(peer);
  }

  /** {@inheritDoc Store.addPending} */
  addPending(
    appId: string,
    peerId: string,
    messageId: string,
    timestamp: number,
    limit: number,
  ): void {
    const data = this.app(appId);
    // SQLite's foreign key from pending to messages.
    if (!data.messages.has(messageId)) {
      throw new Error(`FOREIGN KEY constraint failed: no message ${messageId}`);
    }
    let pending = data.pending.get(peerId);
    if (pending === undefined) {
      pending = new Map();
      data.pending.set(peerId, pending);
    }
    // Already pending: unchanged (SQLite's INSERT OR IGNORE keeps the first timestamp).
    if (!pending.has(messageId)) {
      pending.set(messageId, timestamp);
      data.pendingRows++;
      heapPush(this.pendingHeap, { timestamp, appId, peerId, messageId }, pendingBefore);
    }
    const keep = clampCount(limit);
    if (pending.size > keep) {
      const oldestFirst = sortedPending(pending);
      for (const [id] of oldestFirst.slice(0, pending.size - keep)) pending.delete(id);
      data.pendingRows -= oldestFirst.length - keep;
    }
  }

  /** {@inheritDoc Store.addPendingMany} */
  addPendingMany(
    appId: string,
    peerIds: readonly string[],
    messageId: string,
    timestamp: number,
    limit: number,
  ): void {
    for (const peer of peerIds) this.addPending(appId, peer, messageId, timestamp, limit);
  }

  /** {@inheritDoc Store.pendingFor} */
  pendingFor(appId: string, peerId: string, notBefore: number): StoredMessage[] {
    const data = this.apps.get(appId);
    const pending = data?.pending.get(peerId);
    if (data === undefined || pending === undefined) return [];
    for (const [id, timestamp] of pending) {
      if (timestamp < notBefore && pending.delete(id)) data.pendingRows--;
    }
    const out: StoredMessage[] = [];
    for (const [id] of sortedPending(pending)) {
      const message = data.messages.get(id);
      if (message !== undefined) out.push(copy(message));
    }
    return out;
  }

  /** {@inheritDoc Store.removePending} */
  removePending(appId: string, peerId: string, messageIds: readonly string[]): string[] {
    const data = this.apps.get(appId);
    const pending = data?.pending.get(peerId);
    if (data === undefined || pending === undefined) return [];
    // Map.delete is true only for the first of duplicate ids: each is reported once.
    const removed = messageIds.filter((id) => pending.delete(id));
    data.pendingRows -= removed.length;
    return removed;
  }

  /** {@inheritDoc Store.sweepExpired} */
  sweepExpired(notBefore: number, maxRows: number): number {
    const max = clampCount(maxRows);
    let removed = 0;
    while (removed < max) {
      const top = this.pendingHeap[0];
      if (top === undefined || top.timestamp >= notBefore) break;
      heapPop(this.pendingHeap, pendingBefore);
      const data = this.apps.get(top.appId);
      const pending = data?.pending.get(top.peerId);
      // Stale unless the very entry is still pending (same message, same timestamp).
      if (data === undefined || pending?.get(top.messageId) !== top.timestamp) continue;
      pending.delete(top.messageId);
      data.pendingRows--;
      removed++;
    }
    return removed;
  }

  /** {@inheritDoc Store.pendingCount} */
  pendingCount(appId: string): number {
    return this.apps.get(appId)?.pendingRows ?? 0;
  }

  /** {@inheritDoc Store.getMessage} */
  getMessage(appId: string, messageId: string): StoredMessage | undefined {
    const message = this.apps.get(appId)?.messages.get(messageId);
    return message === undefined ? undefined : copy(message);
  }

  /** {@inheritDoc Store.isParticipant} */
  isParticipant(appId: string, cid: string, peerId: string): boolean {
    return this.apps.get(appId)?.participants.get(cid)?.has(peerId) ?? false;
  }

  /** {@inheritDoc Store.history} */
  history(query: HistoryQuery, take?: (message: StoredMessage) => boolean): StoredMessage[] {
    const data = this.apps.get(query.appId);
    if (data === undefined) return [];
    const { cid, fromPeerId, maxTs } = query;
    // As in SQLite, maxTs alone is the cursor (maxTs, ""): no id is below "".
    const msgId = query.msgId ?? "";
    const matches: StoredMessage[] = [];
    for (const m of data.messages.values()) {
      if (cid !== undefined && m.cid !== cid) continue;
      if (fromPeerId !== undefined && m.fromPeerId !== fromPeerId) continue;
      if (
        maxTs !== undefined &&
        !(m.timestamp < maxTs || (m.timestamp === maxTs && compareBinary(m.id, msgId) < 0))
      ) {
        continue;
      }
      matches.push(m);
    }
    matches.sort((a, b) => b.timestamp - a.timestamp || compareBinary(b.id, a.id));
    const page: StoredMessage[] = [];
    for (const m of matches.slice(0, clampCount(query.limit))) {
      // As SQLite's row-by-row read: the first message `take` refuses ends the page.
      const message = copy(m);
      if (take !== undefined && !take(message)) break;
      page.push(message);
    }
    return page;
  }

  /** {@inheritDoc Store.createRoom} */
  createRoom(appId: string, roomId: string, createdAt: number): void {
    const rooms = this.app(appId).rooms;
    // SQLite's primary key (app, room_id).
    if (rooms.has(roomId)) throw new Error(`UNIQUE constraint failed: room ${roomId} exists`);
    rooms.set(roomId, { createdAt, members: new Set() });
  }

  /** {@inheritDoc Store.roomExists} */
  roomExists(appId: string, roomId: string): boolean {
    return this.apps.get(appId)?.rooms.has(roomId) ?? false;
  }

  /** {@inheritDoc Store.members} */
  members(appId: string, roomId: string): string[] {
    return [...(this.apps.get(appId)?.rooms.get(roomId)?.members ?? [])];
  }

  /** {@inheritDoc Store.addMembers} */
  addMembers(appId: string, roomId: string, peerIds: readonly string[]): void {
    if (peerIds.length === 0) return;
    const room = this.apps.get(appId)?.rooms.get(roomId);
    // SQLite's foreign key from members to rooms (checked only when a row is inserted).
    if (room === undefined) throw new Error(`FOREIGN KEY constraint failed: no room ${roomId}`);
    for (const peer of peerIds) room.members.add(peer);
  }

  /** {@inheritDoc Store.removeMembers} */
  removeMembers(appId: string, roomId: string, peerIds: readonly string[]): void {
    const room = this.apps.get(appId)?.rooms.get(roomId);
    if (room === undefined) return;
    for (const peer of peerIds) room.members.delete(peer);
  }

  // Walks every group of the app: O(groups) per page, fine for the tests this store is
  // for (SQLite reads an index range instead).
  /** {@inheritDoc Store.roomsOf} */
  roomsOf(appId: string, peerId: string, after: string | undefined, limit: number): string[] {
    const rooms = this.apps.get(appId)?.rooms;
    if (rooms === undefined) return [];
    const ids: string[] = [];
    for (const [roomId, room] of rooms) {
      if (room.members.has(peerId) && (after === undefined || compareBinary(roomId, after) > 0)) {
        ids.push(roomId);
      }
    }
    return ids.sort(compareBinary).slice(0, clampCount(limit));
  }

  /** {@inheritDoc Store.useNonce} */
  useNonce(appId: string, nonce: string, expiresAt: number, now: number): boolean {
    const nonces = this.app(appId).nonces;
    const recorded = nonces.get(nonce);
    const fresh = recorded === undefined || recorded <= now;
    if (fresh) {
      nonces.set(nonce, expiresAt);
      heapPush(this.nonceHeap, { expiresAt, appId, nonce }, nonceBefore);
    }
    this.purgeNonces(now);
    return fresh;
  }

  /** Deletes up to {@link NONCE_PURGE_BATCH} expired nonces, soonest expired first. */
  private purgeNonces(now: number): void {
    for (let i = 0; i < NONCE_PURGE_BATCH; i++) {
      const top = this.nonceHeap[0];
      if (top === undefined || top.expiresAt > now) return;
      heapPop(this.nonceHeap, nonceBefore);
      const nonces = this.apps.get(top.appId)?.nonces;
      const current = nonces?.get(top.nonce);
      if (current !== undefined && current <= now) nonces?.delete(top.nonce);
    }
  }

  /**
   * Runs `fn` all or nothing (see Store.atomically): snapshots the whole state
   * (structuredClone keeps Maps and Sets) and restores it if `fn` throws. O(state) per
   * call, fine for the tests this store is for. A nested call snapshots too, so an inner
   * block that fails and is caught leaves the outer one's writes (as a savepoint does).
   */
  atomically<T>(fn: () => T): T {
    const snapshot = structuredClone({
      apps: this.apps,
      heap: this.nonceHeap,
      pendingHeap: this.pendingHeap,
    });
    try {
      return fn();
    } catch (err) {
      this.apps.clear();
      for (const [k, v] of snapshot.apps) this.apps.set(k, v);
      this.nonceHeap.splice(0, this.nonceHeap.length, ...snapshot.heap);
      this.pendingHeap.splice(0, this.pendingHeap.length, ...snapshot.pendingHeap);
      throw err;
    }
  }

  /** Nothing to do: memory is never durable. */
  commit(): void {}

  /** Nothing to release. */
  close(): void {}
}

/**
 * Compares strings as SQLite's BINARY collation compares their UTF-8 bytes, i.e. by code
 * point. JavaScript's `<` compares UTF-16 code units, which agrees except that surrogates
 * (D800–DFFF, encoding U+10000 and up) sort below E000–FFFF; they are lifted above here.
 */
export function compareBinary(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** A peer's pending entries, oldest first by (timestamp, id), as SQLite's index orders them. */
function sortedPending(pending: Map<string, number>): [string, number][] {
  return [...pending].sort(([ia, ta], [ib, tb]) => ta - tb || compareBinary(ia, ib));
}

/** A fresh object per read, like SQLite returns: a caller cannot change what is stored. */
function copy(m: StoredMessage): StoredMessage {
  return {
    id: m.id,
    appId: m.appId,
    cid: m.cid,
    fromPeerId: m.fromPeerId,
    toPeerIds: [...m.toPeerIds],
    roomId: m.roomId,
    msg: m.msg,
    timestamp: m.timestamp,
    receipt: m.receipt,
  };
}

/**
 * The peers recorded as participants of a message's conversation: the sender and the
 * recipients of a peer message; only the sender of a group message, whose history is
 * authorised by current membership instead [decision D9]. (Same as SqliteStore's copy.)
 */
function participantsOf(message: StoredMessage): string[] {
  return message.roomId === undefined
    ? [message.fromPeerId, ...message.toPeerIds]
    : [message.fromPeerId];
}

/** A count as SqliteStore binds it: negative is 0 and a fraction is floored. */
function clampCount(n: number): number {
  return n > 0 ? Math.floor(n) : 0;
}

/** Nonces by expiry. */
function nonceBefore(a: NonceExpiry, b: NonceExpiry): boolean {
  return a.expiresAt < b.expiresAt;
}

/** Pending entries in the order of SQLite's pending_by_expiry index. */
function pendingBefore(a: PendingExpiry, b: PendingExpiry): boolean {
  return (
    (a.timestamp - b.timestamp ||
      compareBinary(a.appId, b.appId) ||
      compareBinary(a.peerId, b.peerId) ||
      compareBinary(a.messageId, b.messageId)) < 0
  );
}

/** Adds `item` to the binary min-heap `heap` ordered by `before`. */
function heapPush<T>(heap: T[], item: T, before: (a: T, b: T) => boolean): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent] as T;
    if (!before(item, p)) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = item;
}

/** Removes the first item of the binary min-heap `heap` ordered by `before`. */
function heapPop<T>(heap: T[], before: (a: T, b: T) => boolean): void {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const l = heap[left] as T;
    const r = heap[right];
    const child = r !== undefined && before(r, l) ? right : left;
    const c = heap[child] as T;
    if (!before(c, last)) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = last;
}
