/**
 * The durable {@link Store}: one SQLite database (better-sqlite3, synchronous) in WAL mode.
 *
 * Writes are grouped: the first write after a commit opens a transaction (`BEGIN IMMEDIATE`)
 * and {@link SqliteStore.commit} ends it. The adapter commits at the end of an event-loop turn
 * (under load, of the turns of its commit interval), before it releases their frames, so one
 * fsync-free WAL append covers every message since the last commit and no `ack` is sent for a
 * write that a crash could lose [decision D5]. Reads run on
 * the same connection, so they see the turn's uncommitted writes.
 *
 * Every statement is prepared once, at open; the statement texts are exported as
 * {@link STATEMENTS} so a test can check with `EXPLAIN QUERY PLAN` that none scans a table.
 * @module
 */

import Database from "better-sqlite3";
import {
  CHECKPOINTER_DEFAULTS,
  Checkpointer,
  type CheckpointerOptions,
  type CheckpointerStats,
} from "./checkpointer.js";
import { PairMap } from "./pair-map.js";
import type { HistoryQuery, Store, StoredMessage } from "./store.js";

/** How many expired nonces one {@link SqliteStore.useNonce} call deletes at most. */
export const NONCE_PURGE_BATCH = 16;

/**
 * The schema migrations: entry `i` takes a database from `user_version` i to i + 1. Append new
 * entries; never edit a released one (databases in the field already ran it).
 */
export const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  // 0 → 1: the initial schema.
  (db) => {
    db.exec(`
      -- A rowid table (not WITHOUT ROWID): rows carry up to 5 KiB of text, and SQLite advises
      -- WITHOUT ROWID only for small rows. The primary key becomes a unique index.
      CREATE TABLE messages (
        app       TEXT    NOT NULL,
        id        TEXT    NOT NULL,
        cid       TEXT    NOT NULL,
        from_peer TEXT    NOT NULL,
        to_peers  TEXT    NOT NULL,   -- JSON array of peer ids; [] for a group message
        room_id   TEXT,               -- NULL for a peer message
        msg       TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,   -- ms
        receipt   INTEGER NOT NULL,   -- 0 or 1
        PRIMARY KEY (app, id)
      );
      -- History pages: an equality prefix, then (timestamp, id) in the page order, so a page is
      -- one index range read backwards (or forwards for the DESC one) and stops after LIMIT.
      CREATE INDEX messages_by_cid  ON messages (app, cid, timestamp DESC, id DESC);
      CREATE INDEX messages_by_from ON messages (app, from_peer, timestamp, id);
      CREATE INDEX messages_by_time ON messages (app, timestamp, id);

      -- Who sent or received a message of a conversation (history authorisation).
      CREATE TABLE participants (
        app  TEXT NOT NULL,
        cid  TEXT NOT NULL,
        peer TEXT NOT NULL,
        PRIMARY KEY (app, cid, peer)
      ) WITHOUT ROWID;

      -- The offline store. The foreign key guarantees every pending row has its message.
      CREATE TABLE pending (
        app       TEXT    NOT NULL,
        peer      TEXT    NOT NULL,
        msg_id    TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,   -- the message's timestamp, copied for the age index
        PRIMARY KEY (app, peer, msg_id),
        FOREIGN KEY (app, msg_id) REFERENCES messages (app, id)
      ) WITHOUT ROWID;
      -- Oldest first per peer, eviction and expiry. In a WITHOUT ROWID table a secondary index
      -- holds the primary key too, so this index covers every pending query on its own.
      CREATE INDEX pending_by_age ON pending (app, peer, timestamp, msg_id);

      CREATE TABLE rooms (
        app        TEXT    NOT NULL,
        room_id    TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (app, room_id)
      ) WITHOUT ROWID;

      -- seq is the rowid: SQLite gives a new row max(rowid) + 1, so a peer that joins (or
      -- re-joins) gets a seq above every current member's, which is join order.
      CREATE TABLE members (
        seq     INTEGER PRIMARY KEY,
        app     TEXT NOT NULL,
        room_id TEXT NOT NULL,
        peer    TEXT NOT NULL,
        UNIQUE (app, room_id, peer),
        FOREIGN KEY (app, room_id) REFERENCES rooms (app, room_id)
      );
      CREATE INDEX members_in_order ON members (app, room_id, seq, peer);

      CREATE TABLE nonces (
        app        TEXT    NOT NULL,
        nonce      TEXT    NOT NULL,
        expires_at INTEGER NOT NULL,  -- ms
        PRIMARY KEY (app, nonce)
      ) WITHOUT ROWID;
      -- The purge takes the soonest-expired nonces of any app.
      CREATE INDEX nonces_by_expiry ON nonces (expires_at);
    `);
  },
  // 1 → 2: bounded storage [OFFLINE-SWEEP-1, LIMIT-STORE-2].
  (db) => {
    db.exec(`
      -- The sweep takes the oldest pending rows of any app, in the order of this index, and
      -- stops after its batch. (It holds the primary key anyway; naming it fixes the order.)
      CREATE INDEX pending_by_expiry ON pending (timestamp, app, peer, msg_id);

      -- Pending rows per app. A COUNT(*) over pending_by_age costs a read of every row of the
      -- app (14 ms at 500000 rows), and it would run for every direct; the store keeps this
      -- count with every change instead, in the same transaction. (Triggers would do it too
      -- but measured twice the cost of an insert into pending.)
      CREATE TABLE pending_counts (
        app TEXT    NOT NULL PRIMARY KEY,
        n   INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO pending_counts (app, n) SELECT app, count(*) FROM pending GROUP BY app;
    `);
  },
  // 2 → 3: a peer's groups, in id order [ROOM-LIST-1].
  (db) => {
    db.exec(`
      -- A page of a peer's groups is one range seek from the cursor that stops after LIMIT.
      -- members_in_order and the UNIQUE index both start with the room, so without this one
      -- every page would read the app's whole membership. It covers the query (room_id is in
      -- it), so no row of members is read.
      CREATE INDEX members_by_peer ON members (app, peer, room_id);
    `);
  },
  // 3 → 4: the offline store keyed in age order (issue 11).
  (db) => {
    db.exec(`
      -- Each pending row was in three b-trees: the primary key (app, peer, msg_id),
      -- pending_by_age and pending_by_expiry. The first two are scattered by peer, so every
      -- message dirtied a page of each per recipient, and every commit wrote those pages to
      -- the log: a fifth of the pages of a message's commit. Keyed in age order, the table
      -- serves what pending_by_age did (eviction, expiry, the offline burst) and an ack
      -- deletes by the full key, taking the timestamp from the message. A message has one
      -- timestamp, so the key still admits one row per (peer, message).
      CREATE TABLE pending_by_key (
        app       TEXT    NOT NULL,
        peer      TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,   -- the message's timestamp
        msg_id    TEXT    NOT NULL,
        PRIMARY KEY (app, peer, timestamp, msg_id),
        FOREIGN KEY (app, msg_id) REFERENCES messages (app, id)
      ) WITHOUT ROWID;
      INSERT INTO pending_by_key (app, peer, timestamp, msg_id)
        SELECT app, peer, timestamp, msg_id FROM pending;
      DROP TABLE pending;
      ALTER TABLE pending_by_key RENAME TO pending;
      CREATE INDEX pending_by_expiry ON pending (timestamp, app, peer, msg_id);
    `);
  },
  // 4 → 5: history keys written in batches (issue 11).
  (db) => {
    db.exec(`
      -- messages_by_cid and messages_by_from are keyed by conversation and by sender, so every
      -- message dirtied a leaf page of each (two thirds of the pages a message's commit wrote
      -- to the log, measured), and messages_by_time added its own tail page to every commit.
      -- The same keys now live in three tables that the store fills in batches from the
      -- messages above history_mark (a batch dirties each page once), and always before a
      -- history query reads them; the messages themselves, appended to their table, stay what
      -- every ack waits for.
      CREATE TABLE history_by_cid (
        app       TEXT    NOT NULL,
        cid       TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,
        id        TEXT    NOT NULL,
        PRIMARY KEY (app, cid, timestamp, id)
      ) WITHOUT ROWID;
      CREATE TABLE history_by_app (
        app       TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,
        id        TEXT    NOT NULL,
        PRIMARY KEY (app, timestamp, id)
      ) WITHOUT ROWID;
      CREATE TABLE history_by_from (
        app       TEXT    NOT NULL,
        from_peer TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,
        id        TEXT    NOT NULL,
        PRIMARY KEY (app, from_peer, timestamp, id)
      ) WITHOUT ROWID;
      INSERT INTO history_by_cid (app, cid, timestamp, id)
        SELECT app, cid, timestamp, id FROM messages;
      INSERT INTO history_by_from (app, from_peer, timestamp, id)
        SELECT app, from_peer, timestamp, id FROM messages;
      INSERT INTO history_by_app (app, timestamp, id) SELECT app, timestamp, id FROM messages;
      DROP INDEX messages_by_cid;
      DROP INDEX messages_by_from;
      DROP INDEX messages_by_time;
      -- The rowid of the last message whose keys are in the two tables: at open, the store
      -- takes the messages above it (a crash loses no key, only the batch in memory).
      CREATE TABLE history_mark (
        only  INTEGER PRIMARY KEY CHECK (only = 0),
        upto  INTEGER NOT NULL
      );
      INSERT INTO history_mark (only, upto) SELECT 0, coalesce(max(rowid), 0) FROM messages;

      -- The pending count of each app now lives in memory only, counted from pending at open
      -- (one pass over its primary key): written back at every commit, its row was one more
      -- log page per commit, a fifth of them (measured).
      DROP TABLE pending_counts;
    `);
  },
  // 5 → 6: a fresh message's pending entries as one set (issue 11).
  (db) => {
    db.exec(`
      -- A group message was a pending row per member, written when it was stored and deleted
      -- at each member's ack: under W5 the two were a third of the engine's and the store's
      -- time in-process. A message stored with its pending entries in one call now keeps
      -- them as one row here: the peers still pending, a JSON array, written at the commits
      -- after which it changed and deleted once it is empty. The entries of peers that stay
      -- pending (offline, or past the bounds of SqliteStore's sets) move to pending, so this
      -- table holds only recent messages. Every entry is in exactly one of the two tables.
      -- Keyed by rowid alone, which the store keeps with each set: one b-tree per write (the
      -- store never looks a set up by message here, only in memory).
      CREATE TABLE pending_sets (
        id        INTEGER PRIMARY KEY,
        app       TEXT    NOT NULL,
        msg_id    TEXT    NOT NULL,
        timestamp INTEGER NOT NULL,   -- the message's timestamp
        peers     TEXT    NOT NULL,   -- JSON array of peer ids, never empty
        FOREIGN KEY (app, msg_id) REFERENCES messages (app, id)
      );
    `);
  },
];

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Brings a database to {@link SCHEMA_VERSION}, one migration per transaction (a crash between
 * two leaves a valid older version). Refuses a database written by a newer schema, which this
 * code could corrupt.
 */
export function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${current} is newer than this server's (${SCHEMA_VERSION})`,
    );
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    const step = MIGRATIONS[version] as (db: Database.Database) => void;
    db.transaction(() => {
      step(db);
      // user_version takes no bound parameter; `version` is a loop integer, not input.
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}

// The history statements differ only in the key table they read, by the equality prefix: a
// range of it, then each message by its primary key (CROSS JOIN pins that order).
const HISTORY_COLUMNS = "id, app, cid, from_peer, to_peers, room_id, msg, timestamp, receipt";
const JOINED_COLUMNS = HISTORY_COLUMNS.split(", ")
  .map((c) => `m.${c}`)
  .join(", ");
const HISTORY_SOURCES = {
  app: {
    from: "history_by_app AS h CROSS JOIN messages AS m ON m.app = h.app AND m.id = h.id",
    where: "h.app = @app",
  },
  cid: {
    from: "history_by_cid AS h CROSS JOIN messages AS m ON m.app = h.app AND m.id = h.id",
    where: "h.app = @app AND h.cid = @cid",
  },
  from: {
    from: "history_by_from AS h CROSS JOIN messages AS m ON m.app = h.app AND m.id = h.id",
    where: "h.app = @app AND h.from_peer = @fromPeerId",
  },
  cidFrom: {
    from: "history_by_cid AS h CROSS JOIN messages AS m ON m.app = h.app AND m.id = h.id",
    where: "h.app = @app AND h.cid = @cid AND m.from_peer = @fromPeerId",
  },
} as const;

function historySql(source: keyof typeof HISTORY_SOURCES, cursor: boolean): string {
  // The row value `(timestamp, id) < (@maxTs, @msgId)` means `timestamp < @maxTs OR
  // (timestamp = @maxTs AND id < @msgId)`, but unlike the OR form the planner uses it as an
  // index range bound. With maxTs alone the store binds msgId = '': no id is below the empty
  // string, so it reduces to `timestamp < @maxTs` (the legacy cursor).
  const range = cursor ? " AND (h.timestamp, h.id) < (@maxTs, @msgId)" : "";
  const { from, where } = HISTORY_SOURCES[source];
  return `SELECT ${JOINED_COLUMNS} FROM ${from} WHERE ${where}${range}
    ORDER BY h.timestamp DESC, h.id DESC LIMIT @limit`;
}

/**
 * Every SQL statement the store runs after open, by name. Exported so the query-plan test
 * covers all of them, including any added later.
 */
export const STATEMENTS = {
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  // One command's writes inside the group transaction (Store.atomically). Savepoints nest,
  // and ROLLBACK TO / RELEASE act on the innermost one of the name.
  savepoint: "SAVEPOINT command",
  release: "RELEASE command",
  rollbackTo: "ROLLBACK TO command",
  // The statements run once or more per message take their parameters by position, in the
  // order of the columns: better-sqlite3 binds them a quarter faster than by name (issue 11).
  insertMessage: `INSERT INTO messages (app, id, cid, from_peer, to_peers, room_id, msg, timestamp, receipt)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  // The keys of the messages in a range of rowids, in one statement per table (OR IGNORE:
  // keys a crash left written above the mark are found there). Rowids only grow (messages
  // are never deleted, and a rolled-back row leaves no gap), so the rows above the mark are
  // exactly those whose keys may not all be written.
  indexHistoryCid: `INSERT OR IGNORE INTO history_by_cid (app, cid, timestamp, id)
    SELECT app, cid, timestamp, id FROM messages WHERE rowid > @after AND rowid <= @upto`,
  indexHistoryFrom: `INSERT OR IGNORE INTO history_by_from (app, from_peer, timestamp, id)
    SELECT app, from_peer, timestamp, id FROM messages WHERE rowid > @after AND rowid <= @upto`,
  indexHistoryApp: `INSERT OR IGNORE INTO history_by_app (app, timestamp, id)
    SELECT app, timestamp, id FROM messages WHERE rowid > @after AND rowid <= @upto`,
  setHistoryMark: "UPDATE history_mark SET upto = @upto WHERE only = 0",
  historyMark: "SELECT upto FROM history_mark WHERE only = 0",
  // How many messages are above the mark, and the last rowid (at open and after a rollback).
  unindexedMessages: `SELECT count(*) AS n, coalesce(max(rowid), @upto) AS last
    FROM messages WHERE rowid > @upto`,
  insertParticipant: "INSERT OR IGNORE INTO participants (app, cid, peer) VALUES (?, ?, ?)",
  getMessage: `SELECT ${HISTORY_COLUMNS} FROM messages WHERE app = @app AND id = @id`,
  isParticipant: "SELECT 1 FROM participants WHERE app = @app AND cid = @cid AND peer = @peer",
  historyApp: historySql("app", false),
  historyAppCursor: historySql("app", true),
  historyCid: historySql("cid", false),
  historyCidCursor: historySql("cid", true),
  historyFrom: historySql("from", false),
  historyFromCursor: historySql("from", true),
  historyCidFrom: historySql("cidFrom", false),
  historyCidFromCursor: historySql("cidFrom", true),
  // OR IGNORE: adding a message that is already pending for the peer changes nothing.
  insertPending: `INSERT OR IGNORE INTO pending (app, peer, timestamp, msg_id)
    VALUES (?, ?, ?, ?)`,
  // The same for many peers in one statement, SQLite looping over a JSON array of them.
  insertPendingMany: `INSERT OR IGNORE INTO pending (app, peer, timestamp, msg_id)
    SELECT ?, value, ?, ? FROM json_each(?)`,
  // A fresh message's pending set (schema 6), by position: app, msg_id, timestamp, peers.
  insertSet: `INSERT INTO pending_sets (app, msg_id, timestamp, peers) VALUES (?, ?, ?, ?)`,
  // By position: peers, id.
  updateSet: "UPDATE pending_sets SET peers = ? WHERE id = ?",
  // By position: id.
  deleteSet: "DELETE FROM pending_sets WHERE id = ?",
  // Every set, read at open and after a rollback the store cannot undo entry by entry: the
  // table holds only the sets of recent messages (SqliteStore's bounds), so it stays small.
  pendingSets: "SELECT id, app, msg_id AS msgId, timestamp, peers FROM pending_sets",
  // Eviction in two steps, both ranges of the primary key: the newest of the rows to evict
  // (the store knows how many rows the peer holds, so it skips exactly the rows it evicts
  // before it: usually none), then it and everything older. Work bounded by the number of
  // rows evicted, whatever the limit. (A single DELETE ... IN (subquery with OFFSET) does the
  // same but measured 7x slower.)
  evictionBoundary: `SELECT timestamp, msg_id AS msgId FROM pending
    WHERE app = @app AND peer = @peer
    ORDER BY timestamp, msg_id LIMIT 1 OFFSET @offset`,
  evictUpTo: `DELETE FROM pending
    WHERE app = @app AND peer = @peer AND (timestamp, msg_id) <= (@timestamp, @msgId)`,
  expirePending: "DELETE FROM pending WHERE app = @app AND peer = @peer AND timestamp < @notBefore",
  // CROSS JOIN pins the join order: walk the peer's pending rows in age order, then look each
  // message up by primary key (never the other way round).
  pendingFor: `SELECT m.id, m.app, m.cid, m.from_peer, m.to_peers, m.room_id, m.msg, m.timestamp,
      m.receipt
    FROM pending AS p CROSS JOIN messages AS m ON m.app = p.app AND m.id = p.msg_id
    WHERE p.app = @app AND p.peer = @peer
    ORDER BY p.timestamp, p.msg_id`,
  // By the full key; the timestamp is the message's, read by its primary key when the store
  // does not hold the message in memory (removePendingAt).
  // By position: app, peer, msg_id, then app and msg_id again.
  removePending: `DELETE FROM pending WHERE app = ? AND peer = ? AND msg_id = ?
    AND timestamp = (SELECT timestamp FROM messages WHERE app = ? AND id = ?)`,
  // By position: app, peer, timestamp, msg_id.
  removePendingAt: `DELETE FROM pending
    WHERE app = ? AND peer = ? AND timestamp = ? AND msg_id = ?`,
  // The sweep reads the keys of the oldest expired rows, then deletes each by key: it needs
  // the app of each row for the pending counts, and measured as fast as a range DELETE.
  expiredPending: `SELECT app, peer, timestamp, msg_id AS msgId FROM pending
    WHERE timestamp < @notBefore
    ORDER BY timestamp, app, peer, msg_id LIMIT @limit`,
  // The store keeps the count of each app it touched in memory and writes it here once per
  // commit, in the same transaction as the rows it counts; one statement makes or sets it.
  // Every app's pending rows, counted once at open (and after a rollback the store cannot
  // undo row by row): the one statement that reads a whole table, in its key order.
  pendingCounts: "SELECT app, count(*) AS n FROM pending GROUP BY app",
  // A peer's pending rows, counted once when the store first needs the number (a range of
  // the primary key, bounded by the offline limit); it is kept in memory after that.
  countPendingOfPeer: "SELECT count(*) AS n FROM pending WHERE app = @app AND peer = @peer",
  createRoom: "INSERT INTO rooms (app, room_id, created_at) VALUES (@app, @roomId, @createdAt)",
  roomExists: "SELECT 1 FROM rooms WHERE app = @app AND room_id = @roomId",
  members: "SELECT peer FROM members WHERE app = @app AND room_id = @roomId ORDER BY seq",
  // OR IGNORE skips present members (their seq, hence their place, stays). It does not skip
  // a foreign-key failure: adding to a missing room throws.
  addMember: "INSERT OR IGNORE INTO members (app, room_id, peer) VALUES (@app, @roomId, @peer)",
  removeMember: "DELETE FROM members WHERE app = @app AND room_id = @roomId AND peer = @peer",
  // The cursor is exclusive; without one the store binds '', which sorts below every group
  // id (ids have at least one character), so one statement serves both.
  roomsOf: `SELECT room_id AS roomId FROM members
    WHERE app = @app AND peer = @peer AND room_id > @after ORDER BY room_id LIMIT @limit`,
  // One statement records a new nonce or revives an expired one; it changes no row when the
  // recorded nonce is still valid, which is how a replay is detected.
  useNonce: `INSERT INTO nonces (app, nonce, expires_at) VALUES (@app, @nonce, @expiresAt)
    ON CONFLICT (app, nonce) DO UPDATE SET expires_at = excluded.expires_at
    WHERE nonces.expires_at <= @now`,
  // The purge reads the soonest-expired nonces, then deletes each by key: with nothing expired
  // (the usual case) that is one index probe, where a DELETE ... IN (subquery) measured 6x
  // slower.
  expiredNonces: `SELECT app, nonce FROM nonces WHERE expires_at <= @now
    ORDER BY expires_at LIMIT ${NONCE_PURGE_BATCH}`,
  deleteNonce: "DELETE FROM nonces WHERE app = @app AND nonce = @nonce",
} as const;

type StatementName = keyof typeof STATEMENTS;

interface MessageRow {
  id: string;
  app: string;
  cid: string;
  from_peer: string;
  to_peers: string;
  room_id: string | null;
  msg: string;
  timestamp: number;
  receipt: number;
}

function toMessage(row: MessageRow): StoredMessage {
  // Same key order as MemoryStore's objects, so the two compare equal even strictly.
  return {
    id: row.id,
    appId: row.app,
    cid: row.cid,
    fromPeerId: row.from_peer,
    toPeerIds: JSON.parse(row.to_peers) as string[],
    roomId: row.room_id ?? undefined,
    msg: row.msg,
    timestamp: row.timestamp,
    receipt: row.receipt !== 0,
  };
}

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * `"normal"` (default): a commit survives a crash of the process (kill -9), which is what an
   * `ack` promises; WAL then syncs only at checkpoints. `"full"`: a commit also survives power
   * loss, at the cost of an fsync per commit.
   */
  readonly synchronous?: "normal" | "full";
  /**
   * How many messages' history keys wait in memory before a commit writes them
   * ({@link HISTORY_BATCH} by default; a history read writes them whatever their number).
   */
  readonly historyBatch?: number;
  /**
   * How many messages each of the two generations of the recent-message mirror holds
   * ({@link RECENT_MESSAGES} by default): the store keeps the latest 1 to 2 times as many in
   * memory for the acks and reads that follow them. A small value makes tests cross the
   * generations; a message the mirror no longer holds is read from its row.
   */
  readonly recentMessages?: number;
  /**
   * Who runs the WAL checkpoints of a file database. `"inline"` (default): SQLite, inside the
   * COMMIT that takes the log past 1000 pages. `"background"`: a worker thread, off the event
   * loop (see {@link Checkpointer}); the server's choice. Ignored for `":memory:"`.
   */
  readonly checkpoints?: "inline" | "background";
  /** The background checkpointer's tuning ({@link CHECKPOINTER_DEFAULTS} by default). */
  readonly checkpointer?: Partial<CheckpointerOptions>;
  /**
   * The most pending sets ({@link MAX_SETS} by default) and set entries
   * ({@link MAX_SET_ENTRIES}) the store holds in memory before a commit moves the oldest sets'
   * entries to rows of pending. Small values make tests cross the bounds.
   */
  readonly maxSets?: number;
  /** See {@link SqliteStoreOptions.maxSets}. */
  readonly maxSetEntries?: number;
}

/** What {@link SqliteStore.settings} reports. */
export interface SqliteStoreSettings {
  /** `"wal"` for a file, `"memory"` for `":memory:"`. */
  readonly journalMode: string;
  /** `"normal"` or `"full"` as opened (SQLite also knows `"off"` and `"extra"`). */
  readonly synchronous: string;
  readonly foreignKeys: boolean;
  readonly busyTimeoutMs: number;
  /** `PRAGMA user_version`: {@link SCHEMA_VERSION} once open. */
  readonly schemaVersion: number;
  /** Who runs the WAL checkpoints: `"background"` while the worker runs, else `"inline"`. */
  readonly checkpoints: "inline" | "background";
}

/** The SQLite {@link Store}. Not safe for use by two processes writing at once. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts: { readonly [K in StatementName]: Database.Statement };

  // In-memory mirrors of a few facts that the hot path of every message reads (measured:
  // they were half of the store's statements per message, issue 11). Each is derived from the
  // rows and can be rebuilt from them at any time, so each is exact or absent, never stale:
  // it changes right after the statement whose effect it mirrors, a savepoint rollback
  // replays the undo log back to the savepoint, and anything that rolls back more (a failed
  // COMMIT, or SQLite ending the transaction by itself) clears them all (resetMirrors).

  /** Pending rows per app [LIMIT-STORE-2]: every app's, counted from the rows at open. */
  private readonly appCounts = new Map<string, number>();
  /** Pending rows per (app, peer) touched lately, so that an insert knows whether to evict. */
  private readonly peerCounts = new PairMap<number>();
  /** The members of groups read lately, by (app, room id), in join order; forgotten at any change. */
  private readonly roomMembers = new Map<string, readonly string[]>();
  /** (app, cid, peer) rows known to be in participants: their INSERT OR IGNORE is skipped. */
  private readonly participants = new Set<string>();
  /**
   * The latest messages inserted, by (app, id): the acks that follow read them from here. Two
   * generations, each of at most `recentMessages`: when the newer is full it becomes the
   * older and the older is dropped whole. Evicting the oldest entry at every insert instead
   * (one Map, a delete per insert) made V8 rehash the Map's table every few hundred inserts,
   * and under W3 the survivors of each young-generation GC fell from about 580 to 375 KB
   * without it, its p99.9 from 17-25 to 12-15 ms (issue 11, bench/README.md).
   */
  private recent = new PairMap<StoredMessage>();
  /** The older generation of {@link SqliteStore.recent}. */
  private recentOlder = new PairMap<StoredMessage>();
  /**
   * The pending entries of fresh messages, one {@link PendingSet} per message by (app, id)
   * (schema 6). Not a mirror: the truth of those entries, which pending_sets holds as of the
   * last commit and each commit writes again where they changed (flushSets), in the same
   * transaction as everything else since, so an entry is as durable as a pending row
   * [ACK-DURABLE-1]. Every entry is either here or a row of pending, never both; an ack of
   * one costs a Set delete, no statement. Bounded by {@link SET_AGE_MS}, {@link MAX_SETS}
   * and {@link MAX_SET_ENTRIES}: past them a set's entries move to pending.
   */
  private sets = new PairMap<PendingSet>();
  /**
   * The sets that changed since the last commit, each once (its `dirty` flag): what
   * flushSets writes. A commit's work is what changed, not every set held: a scan of every
   * set at every commit (three of them) was what bounded the sets to 1024, and under a
   * backlog of a few hundred milliseconds at 17,000 msg/s the sets passed that bound, so that
   * every message's entry went to a row and its ack deleted that row: the overloaded server
   * got slower per message and never caught up (issue 11). A set whose creation was undone
   * is left here and skipped.
   */
  private dirtySets: PendingSet[] = [];
  /** How many entries the sets hold ({@link SqliteStoreOptions.maxSetEntries} bounds it). */
  private setEntries = 0;
  /** How many sets hold one entry or more ({@link SqliteStoreOptions.maxSets} bounds it). */
  private liveSets = 0;
  /**
   * For each (app, peer) with entries in sets, how many: a peer's count, its eviction and its
   * session open look through the sets only for a peer that has some there, where they looked
   * through every set for every peer (issue 11).
   */
  private readonly setHolders = new PairMap<number>();
  /**
   * Messages stored since the last commit with no pending entry yet, by (app, id): only such
   * a message gets a set, since no entry of it can be a row of pending.
   */
  private readonly fresh = new Set<string>();
  /** The newest timestamp of a message this store stored: the clock of the sets' age bound. */
  private latest = 0;
  /** {@link SqliteStore.latest} at the last flushSets that looked at the bounds. */
  private flushedLatest = 0;
  /** The WAL checkpoints' worker thread, with `checkpoints: "background"`. */
  private checkpointer: Checkpointer | undefined;
  /**
   * How to undo each mirror change made inside atomically, in order: flat triples (target,
   * key, old value), no closure per change (issue 11: allocation per message is GC time).
   * A Map target gets `old` back (deleted when it is {@link ABSENT}); a Set target loses
   * `key`; the store itself as target gets `old` as its unindexed state; a
   * {@link PendingSet} as target gets peer `key` back ({@link PRESENT}), or is removed
   * ({@link ABSENT}), its counts with it.
   */
  private readonly undo: unknown[] = [];
  /** The open atomically calls, outermost first; a savepoint is opened at its first write. */
  private readonly scopes: { opened: boolean }[] = [];
  /** Whether this store wrote since its last commit (the group transaction is its own). */
  private written = false;
  /**
   * Set when SQLite ended the group transaction by itself (disk full, I/O, out of memory)
   * after this store had written in it: the writes of every command since the last commit
   * are gone, and the adapter still holds the acks of those that succeeded. The next
   * {@link SqliteStore.commit} throws it, rolling back what was written since, so that none
   * of those acks is sent [ACK-DURABLE-1, ERROR-NOEFFECT-1].
   */
  private lost: Error | undefined;
  /**
   * The messages whose keys may not be in the three key tables yet: the rows above `mark`,
   * `count` of them, the last at rowid `last` (at most the history batch plus a few turns';
   * see indexHistory). `written`: for each key table, the rowid up to which it holds them.
   */
  private unindexed: Unindexed = { mark: 0, count: 0, last: 0, written: [0, 0, 0], batch: 0 };

  private constructor(
    db: Database.Database,
    private readonly historyBatch: number,
    private readonly recentMessages: number,
    private readonly maxSets: number,
    private readonly maxSetEntries: number,
  ) {
    this.db = db;
    const stmts: Partial<Record<StatementName, Database.Statement>> = {};
    for (const name of Object.keys(STATEMENTS) as StatementName[]) {
      stmts[name] = db.prepare(STATEMENTS[name]);
    }
    this.stmts = stmts as Record<StatementName, Database.Statement>;
    this.unindexed = this.loadUnindexed();
    this.loadPendingCounts();
    this.loadSets();
  }

  /**
   * The messages above history_mark: what a crash or a rollback left out of the key tables
   * (or wrote into only some of them: their keys are written again, OR IGNORE).
   */
  private loadUnindexed(): Unindexed {
    const { upto } = this.stmts.historyMark.get() as { upto: number };
    const { n, last } = this.stmts.unindexedMessages.get({ upto }) as { n: number; last: number };
    return { mark: upto, count: n, last, written: [upto, upto, upto], batch: 0 };
  }

  /**
   * Writes the keys of every message above the mark into the three key tables, and moves the
   * mark past them, in the current transaction: before a history query reads them, and at
   * close. A batch dirties each page of a table once, where one message at a time dirtied a
   * page of each per message; and SQLite copies the keys from the rows itself, one statement
   * per table.
   */
  private indexHistory(): void {
    const before = this.unindexed;
    if (before.count === 0) return;
    this.write();
    for (const table of [0, 1, 2] as const) {
      const after = before.written[table];
      if (after < before.last) this.indexRange(table, after, before.last);
    }
    this.stmts.setHistoryMark.run({ upto: before.last });
    this.unindexed = {
      mark: before.last,
      count: 0,
      last: before.last,
      written: [before.last, before.last, before.last],
      batch: 0,
    };
    // Only rows inserted after the batch can have come since, and their undo runs first.
    if (this.scopes.length > 0) this.undo.push(this, undefined, before);
  }

  /**
   * Before a COMMIT, once a batch is due: the keys of one key table, up to the last message
   * of the batch (the one the first table took), and the mark past the batch with the third.
   * One table per commit: the three statements took 3.6 ms together (1.2 ms each, a W3 run at
   * 7,000 msg/s), the longest regular stall of the event loop, which every message arriving
   * meanwhile waited for; a table per commit dirties the same pages (issue 11).
   */
  private indexHistoryStep(): void {
    const before = this.unindexed;
    const [cid, from, app] = before.written;
    let next: Unindexed;
    if (from < cid || app < cid) {
      // A batch is under way, up to what the first table took: the next table.
      const table = from < cid ? 1 : 2;
      this.write();
      this.indexRange(table, before.written[table], cid);
      const written: Written = table === 1 ? [cid, cid, app] : [cid, from, cid];
      if (written[1] === cid && written[2] === cid) {
        // In every table now: the batch's rows are no longer above the mark.
        this.stmts.setHistoryMark.run({ upto: cid });
        next = { ...before, mark: cid, count: before.count - before.batch, written, batch: 0 };
      } else {
        next = { ...before, written };
      }
    } else if (before.count >= this.historyBatch) {
      // A batch: every message above the mark, the first table in this commit.
      this.write();
      this.indexRange(0, cid, before.last);
      next = { ...before, written: [before.last, from, app], batch: before.count };
    } else {
      return;
    }
    this.unindexed = next;
    if (this.scopes.length > 0) this.undo.push(this, undefined, before);
  }

  /** Writes the keys of the messages in (`after`, `upto`] into key table `table`. */
  private indexRange(table: 0 | 1 | 2, after: number, upto: number): void {
    this.stmts[KEY_TABLES[table]].run({ after, upto });
  }

  /**
   * Opens (creating if needed) the database at `path` (`":memory:"` for a private in-memory
   * one) and migrates it to {@link SCHEMA_VERSION}.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const db = new Database(path);
    try {
      // WAL: readers (another process, a backup) do not block the writer, and a commit is an
      // append to the log. In-memory databases stay in "memory" journal mode.
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      // Off by default in SQLite; must be set outside a transaction, hence here.
      db.pragma("foreign_keys = ON");
      // Wait for a checkpointing or backup process instead of failing at once with SQLITE_BUSY.
      db.pragma("busy_timeout = 5000");
      migrate(db);
      const store = new SqliteStore(
        db,
        options.historyBatch ?? HISTORY_BATCH,
        Math.max(1, options.recentMessages ?? RECENT_MESSAGES),
        options.maxSets ?? MAX_SETS,
        options.maxSetEntries ?? MAX_SET_ENTRIES,
      );
      if (options.checkpoints === "background" && !db.memory) {
        store.checkpointer = new Checkpointer(db, path, {
          ...CHECKPOINTER_DEFAULTS,
          ...options.checkpointer,
        });
      }
      return store;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * Throws (an SQLITE_READONLY error) unless the database can be written. SQLite opens a file
   * it may not write (mode 0444, a read-only mount) read-only without a word, and then every
   * write, so every `ack`, fails: a server checks this at start-up and refuses to run. Writes
   * `user_version` back to its own value in a transaction that is rolled back: no change.
   */
  checkWritable(): void {
    const rollback = new Error("rollback");
    const probe = this.db.transaction(() => {
      const version = this.db.pragma("user_version", { simple: true }) as number;
      this.db.pragma(`user_version = ${version}`);
      throw rollback;
    });
    try {
      probe();
    } catch (err) {
      if (err !== rollback) throw err;
    }
  }

  /**
   * The connection settings in effect, read back from SQLite (for a startup log and tests):
   * a pragma that SQLite silently ignored would show here.
   */
  settings(): SqliteStoreSettings {
    const synchronous = this.db.pragma("synchronous", { simple: true }) as number;
    return {
      journalMode: String(this.db.pragma("journal_mode", { simple: true })),
      // SQLite numbers the levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
      synchronous: ["off", "normal", "full", "extra"][synchronous] ?? String(synchronous),
      foreignKeys: this.db.pragma("foreign_keys", { simple: true }) === 1,
      busyTimeoutMs: this.db.pragma("busy_timeout", { simple: true }) as number,
      schemaVersion: this.db.pragma("user_version", { simple: true }) as number,
      checkpoints: this.checkpointer?.stats().running === true ? "background" : "inline",
    };
  }

  /**
   * Runs `fn` all or nothing, as {@link Store.atomically} says.
   *
   * A savepoint per call, opened at the call's first write only, so a command that only reads
   * costs no statement. (better-sqlite3's `db.transaction` always opens one, and builds a
   * wrapper function per call: 9% of the server's time under W2, issue 11.)
   */
  atomically<T>(fn: () => T): T {
    const scope = { opened: false };
    const mark = this.undo.length;
    this.scopes.push(scope);
    try {
      const result = fn();
      if (scope.opened) this.stmts.release.run();
      return result;
    } catch (err) {
      if (scope.opened && this.db.inTransaction) {
        this.stmts.rollbackTo.run();
        this.stmts.release.run();
        this.unwind(mark);
      } else if (!this.db.inTransaction && this.written) {
        // SQLite ended the whole transaction by itself (disk full, I/O): every write since
        // the last commit is gone, not only this call's.
        this.transactionLost(err);
      } else {
        // No statement of this call wrote, but its changes to the pending sets (an ack of a
        // fresh message) live in memory only: they are undone all the same.
        this.unwind(mark);
      }
      throw err;
    } finally {
      this.scopes.pop();
      // Only a savepoint can undo a mirror change, and the outermost one is now closed.
      if (this.scopes.length === 0) this.undo.length = 0;
    }
  }

  /**
   * Opens the group-commit transaction unless it is already open, then the savepoints of the
   * enclosing atomically calls that are not open yet, outermost first.
   */
  private write(): void {
    // db.inTransaction, not a flag of ours: SQLite rolls a transaction back by itself on some
    // errors (disk full, I/O), and then a new one must be opened, without the mirrors of the
    // writes it took with it.
    if (!this.db.inTransaction) {
      if (this.written) this.transactionLost(undefined);
      this.stmts.begin.run();
      this.written = true;
    }
    for (const scope of this.scopes) {
      if (!scope.opened) {
        this.stmts.savepoint.run();
        scope.opened = true;
      }
    }
  }

  /** Sets a mirror entry, and inside atomically records how to undo it. */
  private mirror<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (this.scopes.length > 0) {
      const old = map.get(key);
      // Mirrors hold no undefined values, so undefined means no entry.
      this.undo.push(map, key, old === undefined ? ABSENT : old);
    }
    map.set(key, value);
  }

  /**
   * {@link SqliteStore.mirror} when the caller has just read the entry's value (`old`,
   * undefined for none): one lookup fewer, on paths that run per ack and per member
   * (issue 11).
   */
  private mirrorFrom<K, V>(map: Map<K, V>, key: K, old: V | undefined, value: V): void {
    if (this.scopes.length > 0) this.undo.push(map, key, old === undefined ? ABSENT : old);
    map.set(key, value);
  }

  /** Deletes a mirror entry, and inside atomically records how to undo it. */
  private unmirror<K, V>(map: Map<K, V>, key: K): void {
    const old = map.get(key);
    if (old === undefined) return;
    if (this.scopes.length > 0) this.undo.push(map, key, old);
    map.delete(key);
  }

  /** Undoes the mirror changes made since `mark`, newest first. */
  private unwind(mark: number): void {
    const undo = this.undo;
    while (undo.length > mark) {
      const old = undo.pop();
      const key = undo.pop();
      const target = undo.pop();
      if (target instanceof Map) {
        if (old === ABSENT) target.delete(key);
        else target.set(key, old);
      } else if (target instanceof Set) {
        if (old === PRESENT) target.add(key);
        else target.delete(key);
      } else if (target === this) {
        this.unindexed = old as Unindexed;
      } else if (old === PRESENT) {
        // A peer dropped from a set (dropFromSet) comes back.
        this.holdInSet(target as PendingSet, key as string);
      } else {
        // A set made in the block (addSet) goes, with the entries it holds by now.
        const set = target as PendingSet;
        for (const peer of set.peers) this.countSetEntry(set.app, peer, -1);
        if (set.peers.size > 0) this.liveSets--;
        this.sets.inner(set.app).delete(set.msgId);
      }
    }
  }

  /** A message of the recent-message mirror. */
  private recentMessage(appId: string, id: string): StoredMessage | undefined {
    return this.recent.get(appId, id) ?? this.recentOlder.get(appId, id);
  }

  /**
   * SQLite rolled back the group transaction by itself, with writes of ours in it: forgets
   * the mirrors of those writes and records the loss for the next commit to report.
   */
  private transactionLost(cause: unknown): void {
    this.lost ??= new Error(
      "SQLite rolled back the transaction by itself: the writes since the last commit are lost",
      { cause },
    );
    this.resetMirrors();
    this.written = false;
  }

  /** Forgets every mirror: the next use of each reads the rows again. */
  private resetMirrors(): void {
    this.loadPendingCounts();
    this.peerCounts.clear();
    this.participants.clear();
    this.roomMembers.clear();
    this.recent = new PairMap();
    this.recentOlder = new PairMap();
    this.undo.length = 0;
    // The sets as of the last commit, which is what the rows now are.
    this.fresh.clear();
    this.loadSets();
    // Not a cache: the keys still to write. The rows say which (the mark rolled back too).
    this.unindexed = this.loadUnindexed();
  }

  /**
   * Stores a message, as {@link Store.insertMessage} says.
   *
   * No savepoint of its own: the message row goes first, so a failed insert (a duplicate id)
   * changes nothing, and the engine runs every command in {@link SqliteStore.atomically}.
   */
  insertMessage(message: StoredMessage): void {
    this.write();
    // A frozen copy of our own, in toMessage's key order: the mirror hands it out as it is,
    // since no caller can change it (a copy per read was 3% of W2's acks, issue 11).
    const m: StoredMessage = Object.freeze({
      id: message.id,
      appId: message.appId,
      cid: message.cid,
      fromPeerId: message.fromPeerId,
      toPeerIds: Object.freeze([...message.toPeerIds]),
      roomId: message.roomId,
      msg: message.msg,
      timestamp: message.timestamp,
      receipt: message.receipt,
    });
    const { lastInsertRowid } = this.stmts.insertMessage.run(
      m.appId,
      m.id,
      m.cid,
      m.fromPeerId,
      JSON.stringify(m.toPeerIds),
      m.roomId ?? null,
      m.msg,
      m.timestamp,
      m.receipt ? 1 : 0,
    );
    if (this.recent.size >= this.recentMessages) {
      // A new generation. An undo entry of an open block names the Map it changed, so a
      // rollback still removes its message from the generation that holds it.
      this.recentOlder = this.recent;
      this.recent = new PairMap();
    }
    this.mirror(this.recent.inner(m.appId), m.id, m);
    if (m.timestamp > this.latest) this.latest = m.timestamp;
    // A new message has no pending entry anywhere yet: its first addPendingMany may make a set.
    this.fresh.add(pairKey(m.appId, m.id));
    if (this.scopes.length > 0) this.undo.push(this.fresh, pairKey(m.appId, m.id), undefined);
    const before = this.unindexed;
    this.unindexed = {
      mark: before.mark,
      count: before.count + 1,
      last: Number(lastInsertRowid),
      written: before.written,
      batch: before.batch,
    };
    if (this.scopes.length > 0) this.undo.push(this, undefined, before);
    for (const peer of participantsOf(m)) {
      // Participants are never deleted, so a row known to be there stays there.
      const key = participantKey(m.appId, m.cid, peer);
      if (this.participants.has(key)) continue;
      this.stmts.insertParticipant.run(m.appId, m.cid, peer);
      if (this.participants.size >= MIRROR_ENTRIES) this.participants.clear();
      if (this.scopes.length > 0) this.undo.push(this.participants, key, undefined);
      this.participants.add(key);
    }
  }

  /** {@inheritDoc Store.addPending} */
  addPending(
    appId: string,
    peerId: string,
    messageId: string,
    timestamp: number,
    limit: number,
  ): void {
    this.write();
    this.unfresh(pairKey(appId, messageId));
    const before = this.peerCount(appId, peerId);
    // An entry of a pending set is there already, as a row would be (OR IGNORE).
    const inserted = this.sets.get(appId, messageId)?.peers.has(peerId)
      ? 0
      : this.stmts.insertPending.run(appId, peerId, timestamp, messageId).changes;
    let count = before + inserted;
    let delta = inserted;
    const keep = clampCount(limit);
    if (count > keep) {
      // The oldest entries may be in sets: as rows, the two statements below see them all.
      this.spillPeer(appId, peerId);
      // Evict the count - keep oldest rows [OFFLINE-LIMIT-1]; the boundary is the newest of
      // them, found by skipping the others (usually none).
      const boundary = this.stmts.evictionBoundary.get({
        app: appId,
        peer: peerId,
        offset: count - keep - 1,
      }) as { timestamp: number; msgId: string } | undefined;
      if (boundary !== undefined) {
        const evicted = this.stmts.evictUpTo.run({ app: appId, peer: peerId, ...boundary }).changes;
        count -= evicted;
        delta -= evicted;
      }
    }
    this.mirror(this.peerCounts.inner(appId), peerId, count);
    this.adjustPendingCount(appId, delta);
  }

  /**
   * Adds a message to the offline store of each of `peerIds`, as
   * {@link Store.addPendingMany} says.
   *
   * For a fresh message (stored since the last commit, no entry yet), the peers whose count
   * the store holds and that stay within `limit` (so none evicts) get one pending set
   * in memory, written at the commit: under W5 a row per member, inserted here and deleted at
   * its ack, was a third of the engine's and the store's time in-process (issue 11). For any
   * other message those peers get their rows from one INSERT over a JSON array. The others,
   * and a peer named twice, go through {@link SqliteStore.addPending} one at a time, after
   * them.
   */
  addPendingMany(
    appId: string,
    peerIds: readonly string[],
    messageId: string,
    timestamp: number,
    limit: number,
  ): void {
    const msgKey = pairKey(appId, messageId);
    // Even an empty call is the message's first: the engine names its online recipients
    // first, and when none is, the offline ones must not make a set.
    if (peerIds.length === 0) {
      this.unfresh(msgKey);
      return;
    }
    // First: a transaction that SQLite ended by itself takes the mirrors read below with it.
    this.write();
    const fresh = this.unfresh(msgKey);
    const existing = this.sets.get(appId, messageId);
    const keep = clampCount(limit);
    const bulk: string[] = [];
    /** The count of each of `bulk`, as read: the mirror's update needs no second lookup. */
    const counts: number[] = [];
    const rest: string[] = [];
    const taken = new Set<string>();
    // The app's counts, looked up once for every member.
    const peerCounts = this.peerCounts.innerIfAny(appId);
    for (const peer of peerIds) {
      const known = peerCounts?.get(peer);
      if (known !== undefined && known < keep && !taken.has(peer) && !existing?.peers.has(peer)) {
        taken.add(peer);
        bulk.push(peer);
        counts.push(known);
      } else {
        rest.push(peer);
      }
    }
    if (bulk.length > 0 && fresh) {
      this.addSet({
        app: appId,
        msgId: messageId,
        timestamp,
        peers: taken,
        rowId: 0,
        dirty: false,
      });
      // bulk is not empty, so the app has counts.
      const inner = peerCounts as Map<string, number>;
      for (let k = 0; k < bulk.length; k++) {
        const known = counts[k] as number;
        this.mirrorFrom(inner, bulk[k] as string, known, known + 1);
      }
      this.adjustPendingCount(appId, bulk.length);
    } else if (bulk.length > 0) {
      const inserted = this.stmts.insertPendingMany.run(
        appId,
        timestamp,
        messageId,
        JSON.stringify(bulk),
      ).changes;
      const inner = peerCounts as Map<string, number>;
      for (let k = 0; k < bulk.length; k++) {
        const peer = bulk[k] as string;
        // Some rows were there already (OR IGNORE), and only the rows say whose: those
        // counts are counted again at their next use.
        if (inserted === bulk.length) {
          const known = counts[k] as number;
          this.mirrorFrom(inner, peer, known, known + 1);
        } else {
          this.unmirror(inner, peer);
        }
      }
      this.adjustPendingCount(appId, inserted);
    }
    for (const peer of rest) this.addPending(appId, peer, messageId, timestamp, limit);
  }

  /**
   * Whether the message was fresh (see {@link SqliteStore.fresh}); it is not any more, since
   * the caller is about to add its first entries.
   */
  private unfresh(msgKey: string): boolean {
    if (!this.fresh.delete(msgKey)) return false;
    if (this.scopes.length > 0) this.undo.push(this.fresh, msgKey, PRESENT);
    return true;
  }

  /** Holds a new set (its peers are its entries); undone as a whole. */
  private addSet(set: PendingSet): void {
    this.sets.inner(set.app).set(set.msgId, set);
    for (const peer of set.peers) this.countSetEntry(set.app, peer, 1);
    if (set.peers.size > 0) this.liveSets++;
    this.markDirty(set);
    // The set itself as the target, no old value: unwind removes it.
    if (this.scopes.length > 0) this.undo.push(set, undefined, ABSENT);
  }

  /** Removes `peer` from a pending set, as a row's DELETE would. */
  private dropFromSet(set: PendingSet, peer: string): void {
    if (!set.peers.delete(peer)) return;
    this.countSetEntry(set.app, peer, -1);
    if (set.peers.size === 0) this.liveSets--;
    this.markDirty(set);
    if (this.scopes.length > 0) this.undo.push(set, peer, PRESENT);
  }

  /** Puts `peer` back into a set (the undo of {@link SqliteStore.dropFromSet}). */
  private holdInSet(set: PendingSet, peer: string): void {
    if (set.peers.has(peer)) return;
    if (set.peers.size === 0) this.liveSets++;
    set.peers.add(peer);
    this.countSetEntry(set.app, peer, 1);
    this.markDirty(set);
  }

  /** Adds `delta` to the set entries of (`app`, `peer`) and to the total. */
  private countSetEntry(app: string, peer: string, delta: number): void {
    this.setEntries += delta;
    const inner = this.setHolders.inner(app);
    const n = (inner.get(peer) ?? 0) + delta;
    if (n > 0) inner.set(peer, n);
    else inner.delete(peer);
  }

  /** Lists a set for the next commit's flushSets, once. */
  private markDirty(set: PendingSet): void {
    if (set.dirty) return;
    set.dirty = true;
    this.dirtySets.push(set);
  }

  /** Moves the entries of `peerId` that are in pending sets to rows of pending. */
  private spillPeer(appId: string, peerId: string): void {
    if (this.setEntriesOf(appId, peerId) === 0) return;
    for (const set of this.sets.values()) {
      if (set.app !== appId || !set.peers.has(peerId)) continue;
      this.write();
      this.stmts.insertPending.run(appId, peerId, set.timestamp, set.msgId);
      this.dropFromSet(set, peerId);
    }
  }

  /** Moves every entry of a pending set to rows of pending. */
  private spillSet(set: PendingSet): void {
    if (set.peers.size === 0) return;
    this.write();
    this.stmts.insertPendingMany.run(
      set.app,
      set.timestamp,
      set.msgId,
      JSON.stringify([...set.peers]),
    );
    for (const peer of [...set.peers]) this.dropFromSet(set, peer);
  }

  /** How many entries of `peerId` the pending sets hold. */
  private setEntriesOf(appId: string, peerId: string): number {
    return this.setHolders.get(appId, peerId) ?? 0;
  }

  /** Reads every pending set from pending_sets and adds its entries to the app counts. */
  private loadSets(): void {
    this.sets = new PairMap();
    this.dirtySets = [];
    this.setEntries = 0;
    this.liveSets = 0;
    this.setHolders.clear();
    const rows = this.stmts.pendingSets.all() as {
      id: number;
      app: string;
      msgId: string;
      timestamp: number;
      peers: string;
    }[];
    for (const row of rows) {
      const peers = new Set<string>(JSON.parse(row.peers) as string[]);
      this.sets.set(row.app, row.msgId, {
        app: row.app,
        msgId: row.msgId,
        timestamp: row.timestamp,
        peers,
        rowId: row.id,
        dirty: false,
      });
      for (const peer of peers) this.countSetEntry(row.app, peer, 1);
      if (peers.size > 0) this.liveSets++;
      this.appCounts.set(row.app, this.pendingCount(row.app) + peers.size);
    }
  }

  /**
   * At a commit, before COMMIT: moves to pending the entries of the sets past the bounds
   * (the oldest first), then writes each set that changed since the last commit, deleting
   * the rows of the empty ones.
   */
  private flushSets(): void {
    const overflow = () => this.setEntries > this.maxSetEntries || this.liveSets > this.maxSets;
    if (this.dirtySets.length === 0 && !overflow() && this.latest === this.flushedLatest) return;
    this.flushedLatest = this.latest;
    // App by app, each app's from its oldest (sets are made in message order, and an undo
    // only removes one), up to the first that is young enough with the bounds kept: the
    // sets past SET_AGE_MS and, while the bounds are passed, the oldest of the others.
    const cutoff = this.latest - SET_AGE_MS;
    for (const inner of this.sets.inners()) {
      for (const set of inner.values()) {
        if (set.peers.size === 0) continue; // deleted below
        if (set.timestamp >= cutoff && !overflow()) break;
        this.spillSet(set);
      }
    }
    const dirty = this.dirtySets;
    this.dirtySets = [];
    for (const set of dirty) {
      set.dirty = false;
      // A set whose creation an undo took back, or that an earlier commit deleted.
      if (this.sets.get(set.app, set.msgId) !== set) continue;
      this.write();
      if (set.peers.size === 0) {
        if (set.rowId !== 0) this.stmts.deleteSet.run(set.rowId);
        this.sets.delete(set.app, set.msgId);
        continue;
      }
      const peers = JSON.stringify([...set.peers]);
      if (set.rowId !== 0) {
        this.stmts.updateSet.run(peers, set.rowId);
      } else {
        const { lastInsertRowid } = this.stmts.insertSet.run(
          set.app,
          set.msgId,
          set.timestamp,
          peers,
        );
        set.rowId = Number(lastInsertRowid);
      }
    }
    // An undo can leave an app's map empty.
    this.sets.prune();
  }

  /** The pending rows of a peer, from the mirror or counted once. */
  private peerCount(appId: string, peerId: string): number {
    const known = this.peerCounts.get(appId, peerId);
    if (known !== undefined) return known;
    const counted = this.stmts.countPendingOfPeer.get({ app: appId, peer: peerId }) as {
      n: number;
    };
    const row = { n: counted.n + this.setEntriesOf(appId, peerId) };
    // A cache, not a record: past its bound it starts over (the rows stay the truth). Inside
    // atomically the loaded value may already count this block's writes to rows the mirror
    // did not hold (a removal while the peer was not mirrored), which a rollback takes back:
    // so the load's undo forgets the entry, and the next use counts again.
    if (this.peerCounts.size >= MIRROR_ENTRIES) this.peerCounts.clear();
    this.mirror(this.peerCounts.inner(appId), peerId, row.n);
    return row.n;
  }

  /** Subtracts `removed` from a peer's mirrored count, if it is mirrored. */
  private peerRemoved(appId: string, peerId: string, removed: number): void {
    if (removed === 0) return;
    const inner = this.peerCounts.innerIfAny(appId);
    const known = inner?.get(peerId);
    if (known !== undefined)
      this.mirrorFrom(inner as Map<string, number>, peerId, known, known - removed);
  }

  /**
   * Adds `delta` to the app's pending row count [LIMIT-STORE-2], in memory, right after the
   * rows changed; a rollback takes both back (undo log, or a recount from the rows).
   */
  private adjustPendingCount(app: string, delta: number): void {
    if (delta === 0) return;
    const old = this.appCounts.get(app);
    this.mirrorFrom(this.appCounts, app, old, (old ?? 0) + delta);
  }

  /** {@inheritDoc Store.pendingFor} */
  pendingFor(appId: string, peerId: string, notBefore: number): StoredMessage[] {
    this.write();
    let expired = this.stmts.expirePending.run({ app: appId, peer: peerId, notBefore }).changes;
    // The peer's entries in pending sets, read where they are (moving them to rows would
    // cost a row per entry, and this runs at every session open).
    const inSets: PendingSet[] = [];
    if (this.setEntriesOf(appId, peerId) > 0) {
      for (const set of this.sets.values()) {
        if (set.app !== appId || !set.peers.has(peerId)) continue;
        if (set.timestamp < notBefore) {
          this.dropFromSet(set, peerId);
          expired++;
        } else {
          inSets.push(set);
        }
      }
    }
    this.adjustPendingCount(appId, -expired);
    const rows = this.stmts.pendingFor.all({ app: appId, peer: peerId }) as MessageRow[];
    const out = rows.map(toMessage);
    if (inSets.length > 0) {
      // Oldest first by (timestamp, id), as the rows come [OFFLINE-ORDER-1]; ids are ASCII
      // (StoredMessage.id), so JavaScript's order is SQLite's BINARY order.
      const older = (a: { timestamp: number; id: string }, b: { timestamp: number; id: string }) =>
        a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      for (const set of inSets) {
        const m = this.getMessage(appId, set.msgId);
        if (m === undefined) throw new Error(`pending set of a missing message ${set.msgId}`);
        out.push(m);
      }
      out.sort(older);
    }
    // Every entry of the peer was just read: that is its count.
    this.mirror(this.peerCounts.inner(appId), peerId, out.length);
    return out;
  }

  /** {@inheritDoc Store.removePending} */
  removePending(appId: string, peerId: string, messageIds: readonly string[]): string[] {
    // Usually the entry is in a pending set: a Set delete, no statement, so no transaction
    // or savepoint either, unless a row has to go. But a transaction that SQLite ended by
    // itself takes the mirrors with it first.
    // `written` first: `inTransaction` is a call into the addon, and after a commit (when
    // most acks come) nothing is written yet.
    if (this.written && !this.db.inTransaction) this.transactionLost(undefined);
    const removed: string[] = [];
    let wrote = false;
    // A duplicate id finds its entry already gone (0 changes), so each id is reported once.
    for (const msgId of messageIds) {
      const set = this.sets.get(appId, msgId);
      if (set?.peers.has(peerId)) {
        this.dropFromSet(set, peerId);
        removed.push(msgId);
        continue;
      }
      if (!wrote) {
        this.write();
        wrote = true;
      }
      const known = this.recentMessage(appId, msgId);
      const result =
        known === undefined
          ? this.stmts.removePending.run(appId, peerId, msgId, appId, msgId)
          : this.stmts.removePendingAt.run(appId, peerId, known.timestamp, msgId);
      if (result.changes > 0) removed.push(msgId);
    }
    this.peerRemoved(appId, peerId, removed.length);
    this.adjustPendingCount(appId, -removed.length);
    return removed;
  }

  /** {@inheritDoc Store.sweepExpired} */
  sweepExpired(notBefore: number, maxRows: number): number {
    const limit = clampCount(maxRows);
    if (limit === 0) return 0;
    // Expired entries in pending sets become rows first, to be swept in the rows' order.
    if (!this.sets.empty) {
      for (const set of this.sets.values()) if (set.timestamp < notBefore) this.spillSet(set);
    }
    // The keys of the whole batch are read first (better-sqlite3 runs no other statement
    // while one iterates), so maxRows also bounds the memory one call takes.
    const keys = this.stmts.expiredPending.all({ notBefore, limit }) as {
      app: string;
      peer: string;
      timestamp: number;
      msgId: string;
    }[];
    if (keys.length === 0) return 0;
    this.write();
    const perApp = new Map<string, number>();
    for (const key of keys) {
      this.stmts.removePendingAt.run(key.app, key.peer, key.timestamp, key.msgId);
      this.peerRemoved(key.app, key.peer, 1);
      perApp.set(key.app, (perApp.get(key.app) ?? 0) + 1);
    }
    for (const [app, n] of perApp) this.adjustPendingCount(app, -n);
    return keys.length;
  }

  /** {@inheritDoc Store.pendingCount} */
  pendingCount(appId: string): number {
    return this.appCounts.get(appId) ?? 0;
  }

  /** Counts every app's pending rows (at open, and after a rollback of the transaction). */
  private loadPendingCounts(): void {
    this.appCounts.clear();
    for (const row of this.stmts.pendingCounts.all() as { app: string; n: number }[]) {
      this.appCounts.set(row.app, row.n);
    }
  }

  /** {@inheritDoc Store.getMessage} */
  getMessage(appId: string, messageId: string): StoredMessage | undefined {
    // Messages never change once stored, so a recent one is read from memory.
    // Frozen, so that a caller cannot change the stored message through it.
    const known = this.recentMessage(appId, messageId);
    if (known !== undefined) return known;
    const row = this.stmts.getMessage.get({ app: appId, id: messageId }) as MessageRow | undefined;
    return row === undefined ? undefined : toMessage(row);
  }

  /** {@inheritDoc Store.isParticipant} */
  isParticipant(appId: string, cid: string, peerId: string): boolean {
    return this.stmts.isParticipant.get({ app: appId, cid, peer: peerId }) !== undefined;
  }

  /** {@inheritDoc Store.history} */
  history(query: HistoryQuery, take?: (message: StoredMessage) => boolean): StoredMessage[] {
    const { cid, fromPeerId, maxTs } = query;
    const cursor = maxTs !== undefined;
    if (this.unindexed.count > 0) {
      // The key tables first take every stored message [LOGS-ORDER-1]. Outside a transaction
      // (a REST read), that write commits at once rather than hold the write lock.
      const open = this.db.inTransaction;
      this.indexHistory();
      // Not when writes were lost: their failure is for the adapter's commit to report, with
      // the acks it holds [ACK-DURABLE-1]. Only the keys: the pending sets' changes since the
      // last commit (acks, which write no statement) are the adapter's to commit with its batch.
      if (!open && this.scopes.length === 0 && this.lost === undefined) this.commitTransaction();
    }
    const name: StatementName =
      cid !== undefined
        ? fromPeerId !== undefined
          ? cursor
            ? "historyCidFromCursor"
            : "historyCidFrom"
          : cursor
            ? "historyCidCursor"
            : "historyCid"
        : fromPeerId !== undefined
          ? cursor
            ? "historyFromCursor"
            : "historyFrom"
          : cursor
            ? "historyAppCursor"
            : "historyApp";
    const params: Record<string, unknown> = { app: query.appId, limit: clampCount(query.limit) };
    if (cid !== undefined) params.cid = cid;
    if (fromPeerId !== undefined) params.fromPeerId = fromPeerId;
    if (cursor) {
      params.maxTs = maxTs;
      params.msgId = query.msgId ?? "";
    }
    if (take === undefined) return (this.stmts[name].all(params) as MessageRow[]).map(toMessage);
    // Row by row, so that a page bounded by bytes stops reading at its bound instead of
    // loading `limit` rows of up to 5 KiB first [LOGS-BYTES-1]. Leaving the loop (break or
    // throw) returns the iterator, which resets the statement.
    const page: StoredMessage[] = [];
    for (const row of this.stmts[name].iterate(params) as IterableIterator<MessageRow>) {
      const message = toMessage(row);
      if (!take(message)) break;
      page.push(message);
    }
    return page;
  }

  /** {@inheritDoc Store.createRoom} */
  createRoom(appId: string, roomId: string, createdAt: number): void {
    this.write();
    this.stmts.createRoom.run({ app: appId, roomId, createdAt });
  }

  /** {@inheritDoc Store.roomExists} */
  roomExists(appId: string, roomId: string): boolean {
    return this.stmts.roomExists.get({ app: appId, roomId }) !== undefined;
  }

  /** {@inheritDoc Store.members} */
  members(appId: string, roomId: string): string[] {
    // Every group message reads its room's members: 500 rows per message under W5, 7% of the
    // engine's and the store's time in-process (issue 11). A copy, so the caller may keep it.
    const key = pairKey(appId, roomId);
    const known = this.roomMembers.get(key);
    if (known !== undefined) return [...known];
    const rows = this.stmts.members.all({ app: appId, roomId }) as { peer: string }[];
    const peers = rows.map((r) => r.peer);
    if (this.roomMembers.size >= MIRRORED_ROOMS) this.roomMembers.clear();
    this.mirror(this.roomMembers, key, Object.freeze([...peers]));
    return peers;
  }

  /** {@inheritDoc Store.addMembers} */
  addMembers(appId: string, roomId: string, peerIds: readonly string[]): void {
    this.write();
    for (const peer of peerIds) this.stmts.addMember.run({ app: appId, roomId, peer });
    this.unmirror(this.roomMembers, pairKey(appId, roomId));
  }

  /** {@inheritDoc Store.removeMembers} */
  removeMembers(appId: string, roomId: string, peerIds: readonly string[]): void {
    this.write();
    for (const peer of peerIds) this.stmts.removeMember.run({ app: appId, roomId, peer });
    this.unmirror(this.roomMembers, pairKey(appId, roomId));
  }

  /** {@inheritDoc Store.roomsOf} */
  roomsOf(appId: string, peerId: string, after: string | undefined, limit: number): string[] {
    const rows = this.stmts.roomsOf.all({
      app: appId,
      peer: peerId,
      after: after ?? "",
      limit: clampCount(limit),
    }) as { roomId: string }[];
    return rows.map((r) => r.roomId);
  }

  /** {@inheritDoc Store.useNonce} */
  useNonce(appId: string, nonce: string, expiresAt: number, now: number): boolean {
    this.write();
    const fresh = this.stmts.useNonce.run({ app: appId, nonce, expiresAt, now }).changes > 0;
    // Purging on every use keeps the table near the number of live nonces: each call adds at
    // most one row and removes up to NONCE_PURGE_BATCH expired ones.
    const expired = this.stmts.expiredNonces.all({ now }) as { app: string; nonce: string }[];
    for (const key of expired) this.stmts.deleteNonce.run(key);
    return fresh;
  }

  /** {@inheritDoc Store.commit} */
  commit(): void {
    // If SQLite ended a transaction of ours by itself, its mirrors go too.
    if (!this.db.inTransaction && this.written) this.transactionLost(undefined);
    const lost = this.lost;
    if (lost !== undefined) {
      // What was written since the loss belongs to the same batch, whose frames the adapter
      // now drops: none of it may be stored without its ack either.
      this.lost = undefined;
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      this.resetMirrors();
      this.written = false;
      throw lost;
    }
    if (!this.db.inTransaction && this.dirtySets.length === 0 && this.sets.empty) return;
    try {
      this.flushSets();
    } catch (err) {
      this.rollBackAll();
      throw err;
    }
    this.commitTransaction();
    // Committed messages are not fresh: their entries may be anywhere from now on.
    this.fresh.clear();
  }

  /**
   * COMMITs the open transaction, if any (the history keys first once a batch is due), but
   * not the pending sets' changes in memory: {@link SqliteStore.commit} writes those first.
   */
  private commitTransaction(): void {
    if (!this.db.inTransaction) return;
    try {
      this.indexHistoryStep();
      this.stmts.commit.run();
    } catch (err) {
      this.rollBackAll();
      throw err;
    }
    this.written = false;
    this.checkpointer?.afterCommit();
  }

  /**
   * After a failed write or COMMIT (SQLITE_BUSY, I/O), which can leave the transaction open:
   * its writes were never acknowledged, so they are dropped rather than left for a later
   * commit to store, and the mirrors and sets go back to what the rows say.
   */
  private rollBackAll(): void {
    if (this.db.inTransaction) this.db.exec("ROLLBACK");
    this.resetMirrors();
    this.written = false;
  }

  /** What the background checkpointer has done, when the store has one. */
  checkpointerStats(): CheckpointerStats | undefined {
    return this.checkpointer?.stats();
  }

  /** {@inheritDoc Store.close} */
  close(): void {
    if (!this.db.open) return;
    try {
      this.indexHistory();
      this.commit();
    } finally {
      // Closed even when the last commit fails (its error still reaches the caller). The
      // worker's connection first: the last one to close checkpoints the log and removes it.
      this.checkpointer?.close();
      this.db.close();
    }
  }
}

/**
 * The peers recorded as participants of a message's conversation: the sender and the
 * recipients of a peer message; only the sender of a group message, whose history is
 * authorised by current membership instead [decision D9]. (MemoryStore has its own copy: this
 * file must not import it, and the contract suite keeps the two in step.)
 */
function participantsOf(message: StoredMessage): string[] {
  return message.roomId === undefined
    ? [message.fromPeerId, ...message.toPeerIds]
    : [message.fromPeerId];
}

/**
 * A LIMIT or eviction count as both stores read it: negative counts as 0 (SQLite would read a
 * negative LIMIT as "no limit") and a fraction is floored (SQLite rejects a non-integer LIMIT).
 */
function clampCount(n: number): number {
  return n > 0 ? Math.floor(n) : 0;
}

/**
 * How many messages each generation of {@link SqliteStore}'s recent-message mirror holds, by
 * default: the store keeps the latest 256 to 512 in memory for the acks that follow them.
 */
export const RECENT_MESSAGES = 256;
/** The bound of each of {@link SqliteStore}'s per-peer mirrors: past it, it starts over. */
const MIRROR_ENTRIES = 65536;
/** How many groups' member lists {@link SqliteStore} holds; past it, it starts over. */
const MIRRORED_ROOMS = 1024;

/** A key of two ids (app and message, or app and peer), unambiguous whatever they contain (the first is length-prefixed). */
function pairKey(app: string, id: string): string {
  return `${app.length}:${app}${id}`;
}

/** A participants key of three ids, unambiguous whatever they contain. */
function participantKey(app: string, cid: string, peer: string): string {
  return `${app.length}:${app}${cid.length}:${cid}${peer}`;
}

/** How many messages' history keys {@link SqliteStore} holds before a commit writes them. */
export const HISTORY_BATCH = 1024;

/** The key tables' statements, in the order a batch writes them (see indexHistoryStep). */
const KEY_TABLES = ["indexHistoryCid", "indexHistoryFrom", "indexHistoryApp"] as const;

/** {@link SqliteStore}'s messages whose history keys are not all written yet. */
interface Unindexed {
  /** history_mark: every message up to this rowid has its keys in every key table. */
  readonly mark: number;
  /** How many messages are above the mark. */
  readonly count: number;
  /** The rowid of the last message stored. */
  readonly last: number;
  /**
   * For each of {@link KEY_TABLES}, the rowid up to which it has the keys: all the mark, or,
   * while a batch is under way, the first table past it (the batch's end) and each other
   * table at the mark or at the batch's end.
   */
  readonly written: Written;
  /** While a batch is under way, how many messages it takes (those above the mark at its start). */
  readonly batch: number;
}

/** {@link Unindexed.written}. */
type Written = readonly [cid: number, from: number, app: number];

/** An undo log's "no entry before": the key is deleted on undo. */
const ABSENT: unique symbol = Symbol("absent");
/** An undo log's "was in the Set": the key is added back on undo. */
const PRESENT: unique symbol = Symbol("present");

/**
 * The pending entries of one fresh message (a row of pending_sets, schema 6): the peers for
 * which it is still pending. Its timestamp is the message's.
 */
interface PendingSet {
  readonly app: string;
  readonly msgId: string;
  readonly timestamp: number;
  readonly peers: Set<string>;
  /** The id of its row in pending_sets, once a commit wrote it; 0 before. */
  rowId: number;
  /** Whether `peers` changed since its row was written. */
  dirty: boolean;
}

/**
 * How old (by message timestamps, ms) a pending set may get before a commit moves its entries
 * to pending: an online peer acks within milliseconds, so what is left after this is the
 * entries of peers that are not coming soon.
 */
export const SET_AGE_MS = 2000;
/**
 * How many pending sets a store holds at most; past it, a commit moves the oldest to pending.
 * Room for the messages of a backlog: W2 at 17,469 msg/s held 4,500 to 14,000 sets while it
 * caught up with the first second's (the JIT's), and at 1024 every message past the bound
 * became a row and its ack a DELETE, which kept the server from catching up (issue 11). A
 * set of one peer holds about 350 bytes of heap (16,000 of them, measured on Node 20): 5.6
 * MiB at the bound.
 */
export const MAX_SETS = 16384;
/** How many entries all the pending sets hold at most, for the same. */
export const MAX_SET_ENTRIES = 65536;
