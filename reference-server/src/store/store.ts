/**
 * The storage interface of the reference server. The protocol core calls it synchronously
 * (better-sqlite3 is synchronous, and so is the in-memory store); writes become durable at
 * the next {@link Store.commit}, which the adapter calls at the end of an event-loop turn, or
 * of the turns of its commit interval (group commit), BEFORE it releases any frame produced
 * since the last, so an `ack` is never sent for a message that a crash could lose [ACK
 * durability, decision D5].
 * @module
 */

/** A stored (persistent) message. Transient messages are never stored. */
export interface StoredMessage {
  /** Server-assigned id, `[A-Za-z0-9_-]`, unique per app. */
  readonly id: string;
  readonly appId: string;
  /** Conversation id: md5 of participants, or the room id for a group message. */
  readonly cid: string;
  readonly fromPeerId: string;
  /** Distinct recipient peer ids, never the sender (DIRECT-SELF-1); empty for a group message. */
  readonly toPeerIds: readonly string[];
  /** The room id of a group message. */
  readonly roomId: string | undefined;
  readonly msg: string;
  /** Server time of acceptance, ms. */
  readonly timestamp: number;
  /** Whether the sender asked for a receipt (only kept when it applies: one recipient). */
  readonly receipt: boolean;
}

/** A history query, already authorised and validated by the core. */
export interface HistoryQuery {
  readonly appId: string;
  /** Restrict to one conversation. */
  readonly cid?: string | undefined;
  /** Restrict to messages sent by this peer. */
  readonly fromPeerId?: string | undefined;
  /** Exclusive upper bound on timestamp. */
  readonly maxTs?: number | undefined;
  /** With maxTs: exclusive (timestamp, id) cursor. */
  readonly msgId?: string | undefined;
  readonly limit: number;
}

/** Storage of messages, the offline store, groups and used nonces. */
export interface Store {
  /** Stores a message and records its participants (for history authorisation). */
  insertMessage(message: StoredMessage): void;
  /**
   * Adds a message to a peer's offline store. When the peer then has more than `limit`
   * pending messages, the oldest (by timestamp, then id) are evicted. `timestamp` is the
   * stored message's own (SqliteStore keys the entry by it, and an ack finds it by the
   * message's).
   */
  addPending(
    appId: string,
    peerId: string,
    messageId: string,
    timestamp: number,
    limit: number,
  ): void;
  /**
   * {@link Store.addPending} for each of `peerIds` in turn, with the same result (the
   * recipients of one message: a group's members, say). A store may write them in one go,
   * and may keep the entries of a message's first call together until they are acked
   * (SqliteStore), so the engine names the recipients likely to ack soon in that call.
   */
  addPendingMany(
    appId: string,
    peerIds: readonly string[],
    messageId: string,
    timestamp: number,
    limit: number,
  ): void;
  /** Pending messages of a peer, oldest first, dropping (and deleting) those older than `notBefore`. */
  pendingFor(appId: string, peerId: string, notBefore: number): StoredMessage[];
  /** Removes acked messages from a peer's offline store; returns the ids that were pending. */
  removePending(appId: string, peerId: string, messageIds: readonly string[]): string[];
  /**
   * Removes up to `maxRows` pending entries, of any app and peer, whose timestamp is below
   * `notBefore`, oldest first by (timestamp, app id, peer id, message id); returns how many
   * it removed. Their messages stay in history. The server calls it in small batches, so that
   * pending entries of peers that never return do not stay forever and one call never holds
   * the event loop for long [OFFLINE-SWEEP-1, OFFLINE-HISTORY-1].
   */
  sweepExpired(notBefore: number, maxRows: number): number;
  /**
   * How many pending entries the app holds over all of its peers, expired ones included
   * until they are removed. Cheap (a counter kept with every change), because it is read
   * for every persistent `direct` [LIMIT-STORE-2].
   */
  pendingCount(appId: string): number;
  /**
   * A stored message by id. The caller must not change it: a store may return a copy or a
   * frozen object, and either way its stored message stays as it was.
   */
  getMessage(appId: string, messageId: string): StoredMessage | undefined;
  /** Whether the peer sent or received a message of the conversation. */
  isParticipant(appId: string, cid: string, peerId: string): boolean;
  /**
   * One page of history, newest first by (timestamp, id), at most `query.limit` messages.
   * Reads the matching messages one at a time and offers each to `take` when it is given:
   * at the first one `take` refuses, the page ends without it and no further row is read, so
   * a page bounded by bytes never loads the rows past its bound [LOGS-BYTES-1]. `take` must
   * not call the store (SQLite is in the middle of a statement).
   */
  history(query: HistoryQuery, take?: (message: StoredMessage) => boolean): StoredMessage[];

  /** Creates an empty group. */
  createRoom(appId: string, roomId: string, createdAt: number): void;
  /** Whether the group exists. */
  roomExists(appId: string, roomId: string): boolean;
  /** Current members, in the order they joined. */
  members(appId: string, roomId: string): string[];
  /** Adds members (ignoring present ones). */
  addMembers(appId: string, roomId: string, peerIds: readonly string[]): void;
  /** Removes members (ignoring absent ones). */
  removeMembers(appId: string, roomId: string, peerIds: readonly string[]): void;
  /**
   * The ids of the groups of which `peerId` is a member, in ascending order of their UTF-8
   * bytes (SQLite's BINARY collation), only those greater than `after` when it is given, at
   * most `limit` of them: one page of a peer's groups [ROOM-LIST-1]. Backed
   * by an index, so a page costs a range read whatever the app holds.
   */
  roomsOf(appId: string, peerId: string, after: string | undefined, limit: number): string[];

  /**
   * Records a signature nonce as used until `expiresAt` (ms). Returns false if it is already
   * recorded and not expired (a replay). Expired nonces may be purged.
   */
  useNonce(appId: string, nonce: string, expiresAt: number, now: number): boolean;

  /**
   * Runs `fn` so that its writes happen all or not at all: when `fn` throws, every write it
   * made is undone before the error propagates. The engine runs each command in one, so a
   * command that fails half-way leaves no trace (ERROR-NOEFFECT-1, ACK-FAIL-1).
   */
  atomically<T>(fn: () => T): T;

  /**
   * Makes every write so far durable (one transaction: group commit). If it throws, the
   * uncommitted writes are rolled back, never left to ride along with a later commit.
   */
  commit(): void;
  /** Commits and releases resources. */
  close(): void;
}
