// What only the SQLite store promises: durability (decision D5), group commit, schema
// versioning, index use on every hot path, and behaving exactly like MemoryStore.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import fc from "fast-check";
import ts from "typescript";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/store/memory-store.js";
import {
  MAX_SETS,
  MIGRATIONS,
  migrate,
  NONCE_PURGE_BATCH,
  SCHEMA_VERSION,
  SET_AGE_MS,
  SqliteStore,
  STATEMENTS,
} from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { APP, message } from "./support-store.js";

let dir: string;
let dbPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "confab-store-"));
  dbPath = join(dir, "confab.db");
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("SqliteStore settings", () => {
  it("opens a file in WAL mode with synchronous NORMAL, foreign keys and a busy timeout", () => {
    const store = SqliteStore.open(dbPath);
    expect(store.settings()).toEqual({
      journalMode: "wal",
      synchronous: "normal",
      foreignKeys: true,
      busyTimeoutMs: 5000,
      schemaVersion: SCHEMA_VERSION,
      checkpoints: "inline",
    });
    store.close();
  });

  it("syncs every commit when asked for synchronous FULL", () => {
    const store = SqliteStore.open(dbPath, { synchronous: "full" });
    expect(store.settings().synchronous).toBe("full");
    store.close();
  });

  it("records the schema version in the file", () => {
    SqliteStore.open(dbPath).close();
    const db = new Database(dbPath, { readonly: true });
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it("migrates an already current database without touching it", () => {
    const store = SqliteStore.open(dbPath);
    store.insertMessage(message({ id: "m1" }));
    store.close();
    const db = new Database(dbPath);
    migrate(db);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 1 });
    db.close();
  });

  it("refuses a database written by a newer schema", () => {
    const db = new Database(dbPath);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => SqliteStore.open(dbPath)).toThrow(/newer/);
  });
});

describe("SqliteStore durability", () => {
  it("keeps messages, pending messages, groups and nonces across close and reopen", () => {
    const first = SqliteStore.open(dbPath);
    const m1 = message({ id: "m1", toPeerIds: ["bob"], receipt: true, timestamp: 1 });
    const g1 = message({ id: "g1", cid: "r1", roomId: "r1", toPeerIds: [], timestamp: 2 });
    first.insertMessage(m1);
    first.addPending(APP, "bob", "m1", 1, 50);
    first.createRoom(APP, "r1", 5);
    first.addMembers(APP, "r1", ["carol", "alice", "bob"]);
    first.removeMembers(APP, "r1", ["carol"]);
    first.addMembers(APP, "r1", ["carol"]);
    first.insertMessage(g1);
    first.addPending(APP, "bob", "g1", 2, 50);
    first.addPending(APP, "carol", "g1", 2, 50);
    first.removePending(APP, "carol", ["g1"]);
    expect(first.useNonce(APP, "n1", 10_000, 0)).toBe(true);
    first.commit();
    first.close();

    const second = SqliteStore.open(dbPath);
    expect(second.getMessage(APP, "m1")).toStrictEqual(m1);
    expect(second.history({ appId: APP, limit: 10 })).toStrictEqual([g1, m1]);
    expect(second.isParticipant(APP, m1.cid, "bob")).toBe(true);
    expect(second.pendingFor(APP, "bob", 0)).toStrictEqual([m1, g1]);
    expect(second.pendingFor(APP, "carol", 0)).toEqual([]);
    expect(second.roomExists(APP, "r1")).toBe(true);
    expect(second.members(APP, "r1")).toEqual(["alice", "bob", "carol"]);
    expect(second.useNonce(APP, "n1", 10_000, 1)).toBe(false);
    second.close();
  });

  it("commits the open transaction on close", () => {
    const first = SqliteStore.open(dbPath);
    first.insertMessage(message({ id: "m1" }));
    first.close();
    const second = SqliteStore.open(dbPath);
    expect(second.getMessage(APP, "m1")).toBeDefined();
    second.close();
  });

  it("shows uncommitted writes to its own reads and to other connections only after commit", () => {
    const store = SqliteStore.open(dbPath);
    const other = new Database(dbPath, { readonly: true });
    const count = () =>
      (other.prepare("SELECT count(*) AS n FROM messages").get() as { n: number }).n;

    store.insertMessage(message({ id: "m1" }));
    store.addPending(APP, "bob", "m1", 1000, 50);
    expect(store.getMessage(APP, "m1")).toBeDefined();
    expect(store.pendingFor(APP, "bob", 0)).toHaveLength(1);
    expect(store.history({ appId: APP, limit: 10 })).toHaveLength(1);
    expect(count()).toBe(0);

    store.commit();
    expect(count()).toBe(1);
    other.close();
    store.close();
  });

  it.each(["inline", "background"])(
    "[ACK-DURABLE-1] loses a write that was not committed when the process is killed, and keeps the committed one (%s checkpoints)",
    async (checkpoints) => {
      const storeUrl = compileStoreForChild(dir);
      const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD_SCRIPT], {
        env: { ...process.env, STORE_URL: storeUrl, DB_PATH: dbPath, CHECKPOINTS: checkpoints },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on("exit", (_code, signal) => resolve(signal)),
      );
      try {
        await new Promise<void>((resolve, reject) => {
          let stdout = "";
          child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString();
            if (stdout.includes("ready\n")) resolve();
          });
          child.on("exit", () => reject(new Error(`child exited before ready: ${stderr}`)));
        });
      } finally {
        // Also when the child failed or the test timed out: never leave it running.
        child.kill("SIGKILL");
      }
      expect(await exited).toBe("SIGKILL");

      const store = SqliteStore.open(dbPath);
      expect(store.getMessage(APP, "A")?.msg).toBe("committed");
      expect(store.getMessage(APP, "B")).toBeUndefined();
      expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["A"]);
      expect(store.members(APP, "r1")).toEqual(["alice"]);
      store.close();
    },
  );
});

/**
 * The child: commits A (with its pending row and a group), then writes B and more without
 * committing, checks it can read B back, says "ready" and waits to be killed.
 */
const CHILD_SCRIPT = `
const { SqliteStore } = await import(process.env.STORE_URL);
const store = SqliteStore.open(process.env.DB_PATH, { checkpoints: process.env.CHECKPOINTS });
if (store.settings().checkpoints !== process.env.CHECKPOINTS) throw new Error("not the checkpoints asked for");
const message = (id, msg) => ({ id, appId: "${APP}", cid: "c1", fromPeerId: "alice",
  toPeerIds: ["bob"], roomId: undefined, msg, timestamp: 1000, receipt: false });
store.insertMessage(message("A", "committed"));
store.addPending("${APP}", "bob", "A", 1000, 50);
store.createRoom("${APP}", "r1", 1);
store.addMembers("${APP}", "r1", ["alice"]);
store.commit();
store.insertMessage(message("B", "not committed"));
store.addPending("${APP}", "bob", "B", 1000, 50);
store.addMembers("${APP}", "r1", ["bob"]);
if (store.getMessage("${APP}", "B") === undefined) throw new Error("B is not readable");
process.stdout.write("ready\\n");
setInterval(() => {}, 60_000);
`;

/**
 * Node 20 cannot import TypeScript, so the child gets sqlite-store.ts and the modules it
 * imports (the checkpointer, the pair map) transpiled on the fly (types stripped; store.ts
 * holds only types, so it needs no output), as ES modules under a package.json that says
 * so. The output sits in a temp dir whose node_modules links to the repo's, so its
 * `import "better-sqlite3"` resolves as it does in the repo. Returns the store module's
 * file URL.
 */
function compileStoreForChild(into: string): string {
  const out = join(into, "child");
  mkdirSync(out);
  const nodeModules = dirname(
    dirname(createRequire(import.meta.url).resolve("better-sqlite3/package.json")),
  );
  symlinkSync(nodeModules, join(out, "node_modules"), "dir");
  writeFileSync(join(out, "package.json"), '{"type": "module"}');
  for (const name of ["sqlite-store", "checkpointer", "pair-map"]) {
    const source = fileURLToPath(new URL(`../../src/store/${name}.ts`, import.meta.url));
    const { outputText } = ts.transpileModule(ts.sys.readFile(source) ?? "", {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: source,
    });
    writeFileSync(join(out, `${name}.js`), outputText);
  }
  return pathToFileURL(join(out, "sqlite-store.js")).href;
}

describe("SqliteStore query plans", () => {
  // EXPLAIN QUERY PLAN prints one line per loop over a table or index. "SEARCH t USING ..."
  // seeks a b-tree by a key prefix or range (shown in parentheses): its cost grows with the
  // rows it returns, not with the table. "SCAN t" visits every row of t, and "SCAN t USING
  // [COVERING] INDEX i" every entry of index i, which is cheaper per row but still grows with
  // the table; so any line starting with "SCAN" fails here, with or without an index. (SQLite
  // also prints "SCAN" for loops over things that are not tables: a subquery's materialised
  // result, "SCAN (subquery-N)", or a constant row. One statement has one: insertPendingMany
  // loops over the JSON array of peers it is given, "SCAN json_each VIRTUAL TABLE", which
  // is its argument, not a table; that exact form is allowed, not SCAN in general.) "USE TEMP B-TREE" means every
  // matching row is sorted before LIMIT applies, so it fails too: an ORDER BY must come from
  // the index order. Subquery headers ("LIST SUBQUERY n") are not loops and pass.
  const params = {
    app: APP,
    id: "m1",
    cid: "c1",
    fromPeerId: "alice",
    toPeers: "[]",
    roomId: "r1",
    msg: "hi",
    timestamp: 1,
    receipt: 0,
    peer: "bob",
    msgId: "m1",
    limit: 10,
    notBefore: 0,
    maxTs: 5,
    createdAt: 1,
    nonce: "n1",
    expiresAt: 2,
    now: 1,
    n: 1,
    offset: 0,
    upto: 0,
    after: "r0",
  };

  function plan(db: Database.Database, sql: string): string[] {
    const stmt = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
    // The per-message statements take their parameters by position; a plan needs some value.
    const positional = sql.match(/\?/g)?.length ?? 0;
    const rows = (positional > 0 ? stmt.all(...Array(positional).fill("x")) : stmt.all(params)) as {
      detail: string;
    }[];
    return rows.map((r) => r.detail);
  }

  const db = new Database(":memory:");
  db.pragma("foreign_keys = ON");
  migrate(db);

  // Transaction control reads no table.
  const control = ["begin", "commit", "savepoint", "release", "rollbackTo"];
  // pendingCounts reads the whole of pending, and pendingSets the whole of pending_sets, on
  // purpose, at open and after a rollback (their own tests below).
  const whole = ["pendingCounts", "pendingSets"];
  const queries = Object.entries(STATEMENTS).filter(
    ([name]) => !control.includes(name) && !whole.includes(name),
  );

  it.each(queries)("runs %s through an index, without a table scan or a sort", (name, sql) => {
    const lines = plan(db, sql);
    if (sql.startsWith("INSERT") && !sql.includes("SELECT")) {
      // INSERT ... VALUES reads no table, so its plan is empty. Its uniqueness checks (the
      // primary key and UNIQUE constraints, which ON CONFLICT and OR IGNORE rely on) are seeks
      // in those indexes, and a foreign-key check is a seek in the parent's primary key.
      expect(lines).toEqual([]);
      return;
    }
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      if (name === "insertPendingMany" && /^SCAN json_each VIRTUAL TABLE INDEX \d+:$/.test(line)) {
        continue;
      }
      expect(line).not.toMatch(/^SCAN /);
      expect(line).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("reads history pages and the offline store through the indexes made for them", () => {
    const index = (name: keyof typeof STATEMENTS) => plan(db, STATEMENTS[name]).join("\n");
    // A conversation's or a sender's page is a range of its key table (schema 5), then
    // each message by its primary key.
    expect(index("historyCidCursor")).toMatch(
      /SEARCH h USING PRIMARY KEY \(app=\? AND cid=\? AND \(timestamp,id\)<\(\?,\?\)\)\nSEARCH m USING INDEX sqlite_autoindex_messages_1 \(app=\? AND id=\?\)/,
    );
    expect(index("historyFromCursor")).toMatch(
      /SEARCH h USING PRIMARY KEY \(app=\? AND from_peer=\? AND \(timestamp,id\)<\(\?,\?\)\)\nSEARCH m USING INDEX/,
    );
    expect(index("historyAppCursor")).toMatch(
      /SEARCH h USING PRIMARY KEY \(app=\? AND \(timestamp,id\)<\(\?,\?\)\)\nSEARCH m USING INDEX/,
    );
    // The offline store is keyed in age order (schema 4): its own primary key serves it.
    expect(index("evictionBoundary")).toMatch(
      /SEARCH pending USING PRIMARY KEY \(app=\? AND peer=\?\)/,
    );
    expect(index("evictUpTo")).toMatch(/USING PRIMARY KEY \(app=\? AND peer=\? AND/);
    expect(index("expiredNonces")).toMatch(
      /USING COVERING INDEX nonces_by_expiry \(expires_at<\?\)/,
    );
    expect(index("members")).toMatch(
      /USING COVERING INDEX members_in_order \(app=\? AND room_id=\?\)/,
    );
    expect(index("pendingFor")).toMatch(/SEARCH p USING PRIMARY KEY \(app=\? AND peer=\?\)/);
  });

  it("[OFFLINE-SWEEP-1] finds expired pending rows of every app by a range of pending_by_expiry, in its order", () => {
    // One range seek from the oldest row, stopping after LIMIT, whatever the table holds; the
    // ORDER BY is the index order, so no sort (the generic test above rules one out).
    expect(plan(db, STATEMENTS.expiredPending)).toEqual([
      "SEARCH pending USING COVERING INDEX pending_by_expiry (timestamp<?)",
    ]);
    // Each selected row is then deleted by its primary key.
    expect(plan(db, STATEMENTS.removePendingAt)).toEqual([
      "SEARCH pending USING PRIMARY KEY (app=? AND peer=? AND timestamp=? AND msg_id=?)",
    ]);
    // An ack names ids only: the timestamp of the key is read from the message's own key.
    expect(plan(db, STATEMENTS.removePending)).toEqual([
      "SEARCH pending USING PRIMARY KEY (app=? AND peer=? AND timestamp=? AND msg_id=?)",
      "SCALAR SUBQUERY 1",
      "SEARCH messages USING INDEX sqlite_autoindex_messages_1 (app=? AND id=?)",
    ]);
  });

  it("[ROOM-LIST-1] reads a page of a peer's groups by a range of members_by_peer, in its order", () => {
    // One range seek from the cursor, stopping after LIMIT; the index holds room_id, so it
    // covers the query and no row of members is read, and its order is the ORDER BY.
    expect(plan(db, STATEMENTS.roomsOf)).toEqual([
      "SEARCH members USING COVERING INDEX members_by_peer (app=? AND peer=? AND room_id>?)",
    ]);
  });

  it("[LIMIT-STORE-2] counts the pending rows of every app at open in one pass of the primary key, with no sort", () => {
    expect(plan(db, STATEMENTS.pendingCounts)).toEqual(["SCAN pending"]);
  });

  it("[ACK-DURABLE-1] reads the pending sets at open in one pass, and writes each by its primary key", () => {
    // The table holds the sets of recent messages only (SET_AGE_MS, MAX_SETS): one pass.
    expect(plan(db, STATEMENTS.pendingSets)).toEqual(["SCAN pending_sets"]);
    for (const name of ["updateSet", "deleteSet"] as const) {
      expect(plan(db, STATEMENTS[name])).toEqual([
        "SEARCH pending_sets USING INTEGER PRIMARY KEY (rowid=?)",
      ]);
    }
  });
});

describe("SqliteStore bounded storage", () => {
  /** Stores `messages` messages at timestamps 0, 1, …, each pending for `peers` peers. */
  function fill(store: SqliteStore, messages: number, peers: number, app = APP): void {
    for (let m = 0; m < messages; m++) {
      const id = `m${String(m).padStart(4, "0")}`;
      store.insertMessage(message({ id, appId: app, timestamp: m }));
      for (let p = 0; p < peers; p++) store.addPending(app, `p${p}`, id, m, 50);
    }
    store.commit();
  }

  it("[OFFLINE-SWEEP-1] sweeps a backlog in batches of maxRows, each committed on its own", () => {
    const store = SqliteStore.open(dbPath);
    fill(store, 20, 30); // 600 rows at timestamps 0..19, 30 per timestamp
    const other = new Database(dbPath, { readonly: true });
    const rows = () =>
      (other.prepare("SELECT count(*) AS n FROM pending").get() as { n: number }).n;
    const batches: number[] = [];
    for (;;) {
      const n = store.sweepExpired(10, 64);
      store.commit();
      batches.push(n);
      // Another connection sees each batch once it is committed.
      expect(rows()).toBe(600 - batches.reduce((a, b) => a + b, 0));
      if (n < 64) break;
    }
    expect(batches).toEqual([64, 64, 64, 64, 44]); // the 300 rows below timestamp 10
    const left = other.prepare("SELECT min(timestamp) AS t FROM pending").get() as { t: number };
    expect(left.t).toBe(10);
    expect(store.pendingCount(APP)).toBe(300);
    expect(other.prepare("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 20 });
    other.close();
    store.close();
  });

  it("[OFFLINE-SWEEP-1] opens no write transaction when nothing has expired", () => {
    const store = SqliteStore.open(dbPath);
    fill(store, 3, 2);
    // Another writer could not begin while this store held the write lock.
    const other = new Database(dbPath, { timeout: 0 });
    expect(store.sweepExpired(0, 100)).toBe(0);
    expect(() => other.exec("BEGIN IMMEDIATE; ROLLBACK")).not.toThrow();
    other.close();
    store.close();
  });

  it("[LIMIT-STORE-2] keeps the pending count across close and reopen, equal to the rows it counts", () => {
    const first = SqliteStore.open(dbPath);
    fill(first, 4, 5);
    first.close();
    const second = SqliteStore.open(dbPath);
    expect(second.pendingCount(APP)).toBe(20);
    second.removePending(APP, "p0", ["m0000", "m0001"]);
    expect(second.pendingCount(APP)).toBe(18);
    second.close(); // commits
    const third = SqliteStore.open(dbPath);
    expect(third.pendingCount(APP)).toBe(18);
    third.close();
    const db = new Database(dbPath, { readonly: true });
    const actual = db.prepare("SELECT count(*) AS n FROM pending WHERE app = ?").get(APP);
    expect(actual).toEqual({ n: 18 });
    db.close();
  });

  it("[LIMIT-STORE-2] [OFFLINE-SWEEP-1] migrates a version 1 database: counts its pending rows per app and indexes them for the sweep", () => {
    const db = new Database(dbPath);
    db.pragma("foreign_keys = ON");
    (MIGRATIONS[0] as (d: Database.Database) => void)(db);
    db.pragma("user_version = 1");
    const insertMessage = db.prepare(
      `INSERT INTO messages (app, id, cid, from_peer, to_peers, room_id, msg, timestamp, receipt)
       VALUES (?, ?, 'c1', 'alice', '[]', NULL, 'hi', ?, 0)`,
    );
    const insertPending = db.prepare("INSERT INTO pending VALUES (?, ?, ?, ?)");
    for (const [app, id, t, peers] of [
      [APP, "m1", 1, ["bob", "carol"]],
      [APP, "m2", 2, ["bob"]],
      ["app2", "m1", 1, ["zed"]],
    ] as const) {
      insertMessage.run(app, id, t);
      for (const peer of peers) insertPending.run(app, peer, id, t);
    }
    db.close();

    const store = SqliteStore.open(dbPath);
    expect(store.settings().schemaVersion).toBe(SCHEMA_VERSION);
    expect(store.pendingCount(APP)).toBe(3);
    expect(store.pendingCount("app2")).toBe(1);
    expect(store.sweepExpired(2, 10)).toBe(3);
    expect(store.pendingCount(APP)).toBe(1);
    expect(store.pendingCount("app2")).toBe(0);
    store.close();
  });
});

describe("SqliteStore membership index", () => {
  it("[ROOM-LIST-1] migrates a version 2 database: indexes the memberships it holds by peer", () => {
    const db = new Database(dbPath);
    db.pragma("foreign_keys = ON");
    for (const step of MIGRATIONS.slice(0, 2)) step(db);
    db.pragma("user_version = 2");
    const room = db.prepare("INSERT INTO rooms (app, room_id, created_at) VALUES (?, ?, 1)");
    const member = db.prepare("INSERT INTO members (app, room_id, peer) VALUES (?, ?, ?)");
    for (const [app, roomId, peers] of [
      [APP, "r2", ["alice", "bob"]],
      [APP, "r1", ["alice"]],
      ["app2", "r1", ["alice"]],
    ] as const) {
      room.run(app, roomId);
      for (const peer of peers) member.run(app, roomId, peer);
    }
    db.close();

    const store = SqliteStore.open(dbPath);
    expect(store.settings().schemaVersion).toBe(SCHEMA_VERSION);
    expect(store.roomsOf(APP, "alice", undefined, 10)).toEqual(["r1", "r2"]);
    expect(store.roomsOf(APP, "alice", "r1", 10)).toEqual(["r2"]);
    expect(store.roomsOf(APP, "bob", undefined, 10)).toEqual(["r2"]);
    expect(store.roomsOf("app2", "alice", undefined, 10)).toEqual(["r1"]);
    store.close();
    const check = new Database(dbPath, { readonly: true });
    const index = check
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'members_by_peer'")
      .get();
    expect(index).toEqual({ name: "members_by_peer" });
    check.close();
  });
});

describe("SqliteStore mirrors through a rollback", () => {
  it("[OFFLINE-LIMIT-1] [ERROR-NOEFFECT-1] forgets a peer count it loaded inside a block that removed one of the peer's rows and then failed", () => {
    const first = SqliteStore.open(dbPath);
    for (const [id, t] of [
      ["m1", 1],
      ["m2", 2],
    ] as const) {
      first.insertMessage(message({ id, timestamp: t }));
      first.addPending(APP, "bob", id, t, 2);
    }
    first.close();
    // A fresh store does not mirror bob's count yet: the removal below changes rows only.
    const store = SqliteStore.open(dbPath);
    expect(() =>
      store.atomically(() => {
        store.removePending(APP, "bob", ["m1"]);
        store.insertMessage(message({ id: "m3", timestamp: 3 }));
        store.addPending(APP, "bob", "m3", 3, 2); // counts bob's rows: 1, after the removal
        throw new Error("half-way");
      }),
    ).toThrow("half-way");
    // Rolled back, bob holds m1 and m2 again; one more message evicts m1, the oldest.
    store.insertMessage(message({ id: "m4", timestamp: 4 }));
    store.addPending(APP, "bob", "m4", 4, 2);
    expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["m2", "m4"]);
    expect(store.pendingCount(APP)).toBe(2);
    store.close();
  });

  it("[ERROR-NOEFFECT-1] [ACK-REMOVE-1] forgets the messages of a failed block across new generations of recent messages, and keeps at most two", () => {
    const store = SqliteStore.open(dbPath, { recentMessages: 2 });
    for (const t of [1, 2]) {
      store.insertMessage(message({ id: `m${t}`, timestamp: t }));
      store.addPending(APP, "bob", `m${t}`, t, 10);
    }
    store.commit();
    // m3 starts a generation (m1 and m2 become the older one) and m5 another (m3 and m4).
    expect(() =>
      store.atomically(() => {
        for (const t of [3, 4, 5]) {
          store.insertMessage(message({ id: `m${t}`, timestamp: t }));
          store.addPending(APP, "bob", `m${t}`, t, 10);
        }
        throw new Error("half-way");
      }),
    ).toThrow("half-way");
    for (const id of ["m3", "m4", "m5"]) expect(store.getMessage(APP, id)).toBeUndefined();
    expect(store.removePending(APP, "bob", ["m3", "m4", "m5"])).toEqual([]);
    // Older messages come from the mirror or from their rows alike.
    for (let t = 6; t <= 12; t++) {
      store.insertMessage(message({ id: `m${t}`, timestamp: t }));
      store.addPending(APP, "bob", `m${t}`, t, 20);
    }
    for (const t of [1, 2, 6, 11, 12]) {
      expect(store.getMessage(APP, `m${t}`)).toStrictEqual(message({ id: `m${t}`, timestamp: t }));
    }
    expect(store.removePending(APP, "bob", ["m1", "m6", "m12"])).toEqual(["m1", "m6", "m12"]);
    expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual([
      "m2",
      "m7",
      "m8",
      "m9",
      "m10",
      "m11",
    ]);
    // The bound: no API shows the mirror, so read its two generations directly.
    const mirror = store as unknown as {
      recent: Map<string, unknown>;
      recentOlder: Map<string, unknown>;
    };
    expect(mirror.recent.size + mirror.recentOlder.size).toBeLessThanOrEqual(4);
    store.close();
  });
});

describe("SqliteStore offline store keyed in age order", () => {
  it("[OFFLINE-ORDER-1] [LIMIT-STORE-2] migrates a version 3 database: keeps every pending row, oldest first, and drops pending_by_age", () => {
    const db = new Database(dbPath);
    db.pragma("foreign_keys = ON");
    for (const step of MIGRATIONS.slice(0, 3)) step(db);
    db.pragma("user_version = 3");
    const insertMessage = db.prepare(
      `INSERT INTO messages (app, id, cid, from_peer, to_peers, room_id, msg, timestamp, receipt)
       VALUES (?, ?, 'c1', 'alice', '["bob"]', NULL, 'hi', ?, 0)`,
    );
    const insertPending = db.prepare(
      "INSERT INTO pending (app, peer, msg_id, timestamp) VALUES (?, ?, ?, ?)",
    );
    // Ids that do not sort like their timestamps: the order is (timestamp, id).
    for (const [id, t] of [
      ["z1", 1],
      ["a2", 2],
      ["m2", 2],
    ] as const) {
      insertMessage.run(APP, id, t);
      insertPending.run(APP, "bob", id, t);
    }
    db.close();

    const store = SqliteStore.open(dbPath);
    expect(store.settings().schemaVersion).toBe(SCHEMA_VERSION);
    expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["z1", "a2", "m2"]);
    expect(store.pendingCount(APP)).toBe(3);
    // An ack by id alone finds the row by its key (the timestamp read from the message).
    expect(store.removePending(APP, "bob", ["a2", "nope"])).toEqual(["a2"]);
    store.close();
    const check = new Database(dbPath, { readonly: true });
    const indexes = check
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pending'")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(indexes).toContain("pending_by_expiry");
    expect(indexes).not.toContain("pending_by_age");
    expect(check.prepare("SELECT count(*) AS n FROM pending").get()).toEqual({ n: 2 });
    check.close();
  });
});

describe("SqliteStore pending sets (schema 6)", () => {
  /** What another connection reads: the committed state, as after a crash. */
  function committed(): { sets: { msg_id: string; peers: string }[]; rows: number } {
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db.prepare("SELECT msg_id, peers FROM pending_sets ORDER BY msg_id").all() as {
        msg_id: string;
        peers: string;
      }[];
      // A set's order is not part of it (an undone ack puts the peer back at the end).
      const sets = rows.map((r) => ({
        msg_id: r.msg_id,
        peers: JSON.stringify((JSON.parse(r.peers) as string[]).sort()),
      }));
      const { n } = db.prepare("SELECT count(*) AS n FROM pending").get() as { n: number };
      return { sets, rows: n };
    } finally {
      db.close();
    }
  }

  /** Stores group message `id` at `timestamp` with pending entries for `peers`, in one command. */
  function groupSend(store: SqliteStore, id: string, peers: string[], timestamp: number): void {
    store.atomically(() => {
      store.insertMessage(message({ id, cid: "r1", roomId: "r1", toPeerIds: [], timestamp }));
      store.addPendingMany(APP, peers, id, timestamp, 5000);
    });
  }

  const PEERS = ["bob", "carol", "dan"];

  it("[OFFLINE-PENDING-1] [LIMIT-STORE-2] migrates a version 5 database: keeps its pending rows, with no set", () => {
    const db = new Database(dbPath);
    db.pragma("foreign_keys = ON");
    for (const step of MIGRATIONS.slice(0, 5)) step(db);
    db.pragma("user_version = 5");
    db.prepare(
      `INSERT INTO messages (app, id, cid, from_peer, to_peers, room_id, msg, timestamp, receipt)
       VALUES (?, 'g1', 'r1', 'alice', '[]', 'r1', 'hi', 10, 0)`,
    ).run(APP);
    const insertPending = db.prepare(
      "INSERT INTO pending (app, peer, timestamp, msg_id) VALUES (?, ?, 10, 'g1')",
    );
    for (const p of PEERS) insertPending.run(APP, p);
    db.close();

    const store = SqliteStore.open(dbPath);
    expect(store.settings().schemaVersion).toBe(SCHEMA_VERSION);
    expect(store.pendingCount(APP)).toBe(3);
    expect(PEERS.map((p) => store.pendingFor(APP, p, 0).map((m) => m.id))).toEqual([
      ["g1"],
      ["g1"],
      ["g1"],
    ]);
    // The old rows are acked as rows; a new message after the migration makes a set.
    expect(store.atomically(() => store.removePending(APP, "bob", ["g1"]))).toEqual(["g1"]);
    groupSend(store, "g2", PEERS, 20);
    store.close();
    expect(committed()).toEqual({
      sets: [{ msg_id: "g2", peers: '["bob","carol","dan"]' }],
      rows: 2,
    });
  });

  it("[ACK-DURABLE-1] [ACK-REMOVE-1] keeps a fresh message's entries as one row, rewritten by the commits after acks, deleted once empty", () => {
    const store = SqliteStore.open(dbPath);
    // A set is made for the peers whose count the store holds (here: read at their open).
    for (const p of PEERS) store.pendingFor(APP, p, 0);
    groupSend(store, "g1", PEERS, 10);
    expect(committed()).toEqual({ sets: [], rows: 0 });
    store.commit();
    expect(committed()).toEqual({
      sets: [{ msg_id: "g1", peers: '["bob","carol","dan"]' }],
      rows: 0,
    });
    expect(store.atomically(() => store.removePending(APP, "carol", ["g1"]))).toEqual(["g1"]);
    // An ack of an entry that is gone, or a duplicate, removes nothing [ACK-IGNORE-1].
    expect(store.atomically(() => store.removePending(APP, "carol", ["g1", "g1"]))).toEqual([]);
    expect(store.pendingCount(APP)).toBe(2);
    // In memory until the commit, as a DELETE would be in the transaction.
    expect(committed().sets[0]?.peers).toBe('["bob","carol","dan"]');
    store.commit();
    expect(committed()).toEqual({ sets: [{ msg_id: "g1", peers: '["bob","dan"]' }], rows: 0 });

    // What the rows say is what a new open reads, with the first store never closed.
    const again = SqliteStore.open(dbPath);
    try {
      expect(again.pendingCount(APP)).toBe(2);
      expect(PEERS.map((p) => again.pendingFor(APP, p, 0).map((m) => m.id))).toEqual([
        ["g1"],
        [],
        ["g1"],
      ]);
    } finally {
      again.close();
    }

    store.atomically(() => store.removePending(APP, "bob", ["g1"]));
    store.atomically(() => store.removePending(APP, "dan", ["g1"]));
    store.commit();
    expect(committed()).toEqual({ sets: [], rows: 0 });
    expect(store.pendingCount(APP)).toBe(0);
    store.close();
  });

  it("[OFFLINE-LIMIT-1] counts a peer's entries in sets when it first counts the peer, and evicts them like rows", () => {
    const first = SqliteStore.open(dbPath);
    for (const p of PEERS) first.pendingFor(APP, p, 0);
    groupSend(first, "g1", PEERS, 10);
    first.close();
    // Reopened: the sets are read back, and no peer count is held yet.
    const store = SqliteStore.open(dbPath);
    // g1 is pending for bob already, in its set: nothing is added (as OR IGNORE on a row).
    store.addPending(APP, "bob", "g1", 10, 50);
    expect(store.pendingCount(APP)).toBe(3);
    // dan at a limit of 1: his entry of g1 counts, so the new message evicts it.
    store.insertMessage(message({ id: "m9", toPeerIds: ["dan"], timestamp: 20 }));
    store.addPending(APP, "dan", "m9", 20, 1);
    expect(store.pendingCount(APP)).toBe(3);
    expect(PEERS.map((p) => store.pendingFor(APP, p, 0).map((m) => m.id))).toEqual([
      ["g1"],
      ["g1"],
      ["m9"],
    ]);
    store.close();
  });

  it("[OFFLINE-PENDING-1] makes rows, not a set, for the entries of a message's second call, also after an empty first one", () => {
    const store = SqliteStore.open(dbPath);
    for (const p of PEERS) store.pendingFor(APP, p, 0);
    store.atomically(() => {
      store.insertMessage(message({ id: "m1", toPeerIds: PEERS, timestamp: 10 }));
      // No recipient online (handleDirect's first call), then the offline ones.
      store.addPendingMany(APP, [], "m1", 10, 50);
      store.addPendingMany(APP, PEERS, "m1", 10, 50);
      store.insertMessage(message({ id: "m2", toPeerIds: PEERS, timestamp: 11 }));
      store.addPendingMany(APP, ["bob"], "m2", 11, 50);
      store.addPendingMany(APP, ["carol", "dan"], "m2", 11, 50);
    });
    store.commit();
    expect(committed()).toEqual({ sets: [{ msg_id: "m2", peers: '["bob"]' }], rows: 5 });
    expect(store.pendingCount(APP)).toBe(6);
    store.close();
  });

  it("[ACK-DURABLE-1] commits only its history keys at a history read between commits, not the acks of sets", () => {
    // Found by a review: an ack of a set's entry opens no transaction, so a REST history
    // read then took it for a store with nothing to commit and committed the ack with its
    // keys, before the adapter's commit of the ack's batch.
    const store = SqliteStore.open(dbPath);
    store.pendingFor(APP, "bob", 0);
    store.atomically(() => {
      store.insertMessage(message({ id: "m1", toPeerIds: ["bob"], timestamp: 10 }));
      store.addPendingMany(APP, ["bob"], "m1", 10, 50);
    });
    store.commit();
    store.atomically(() => store.removePending(APP, "bob", ["m1"]));
    // The keys of m1 are not written yet (history batches), so this read writes and commits.
    expect(store.history({ appId: APP, limit: 10 }).map((m) => m.id)).toEqual(["m1"]);
    expect(committed()).toEqual({ sets: [{ msg_id: "m1", peers: '["bob"]' }], rows: 0 });
    // A crash now: the ack was never committed, so m1 is still pending for bob.
    (store as unknown as { db: Database.Database }).db.close();
    const again = SqliteStore.open(dbPath);
    expect(again.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["m1"]);
    expect(again.history({ appId: APP, limit: 10 }).map((m) => m.id)).toEqual(["m1"]);
    again.close();
  });

  it("[OFFLINE-ORDER-1] gives a peer its entries of sets and of rows together, oldest first", () => {
    const store = SqliteStore.open(dbPath);
    store.insertMessage(message({ id: "m2", toPeerIds: ["bob"], timestamp: 20 }));
    store.addPending(APP, "bob", "m2", 20, 50);
    store.commit();
    groupSend(store, "g3", ["bob"], 30);
    groupSend(store, "g1", ["bob"], 10);
    store.commit();
    expect(committed().rows).toBe(1);
    expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["g1", "m2", "g3"]);
    // Past the offline age, a set's entry is dropped like a row [OFFLINE-AGE-1].
    expect(store.pendingFor(APP, "bob", 15).map((m) => m.id)).toEqual(["m2", "g3"]);
    expect(store.pendingCount(APP)).toBe(2);
    store.close();
  });

  it("[OFFLINE-LIMIT-1] moves a set's entries to rows once the set is SET_AGE_MS old, and when the sets pass maxSets", () => {
    const maxSets = 16;
    const store = SqliteStore.open(dbPath, { maxSets });
    for (const p of PEERS) store.pendingFor(APP, p, 0);
    groupSend(store, "g1", PEERS, 0);
    store.commit();
    groupSend(store, "g2", ["bob"], SET_AGE_MS);
    store.commit();
    expect(committed()).toEqual({
      sets: [
        { msg_id: "g1", peers: '["bob","carol","dan"]' },
        { msg_id: "g2", peers: '["bob"]' },
      ],
      rows: 0,
    });
    // One millisecond later g1 is past the age: its entries become rows at the next commit.
    store.insertMessage(message({ id: "m3", timestamp: SET_AGE_MS + 1 }));
    store.commit();
    expect(committed()).toEqual({ sets: [{ msg_id: "g2", peers: '["bob"]' }], rows: 3 });
    expect(store.pendingFor(APP, "carol", 0).map((m) => m.id)).toEqual(["g1"]);
    // An ack finds the entry where it now is.
    expect(store.atomically(() => store.removePending(APP, "carol", ["g1"]))).toEqual(["g1"]);
    store.commit();
    expect(committed().rows).toBe(2);

    // maxSets more sets at the same time: the oldest live one (g2) goes to the rows.
    for (let i = 0; i < maxSets; i++)
      groupSend(store, `h${String(i).padStart(4, "0")}`, ["dan"], SET_AGE_MS + 1);
    store.commit();
    const after = committed();
    expect(after.sets.length).toBe(maxSets);
    expect(after.sets.some((s) => s.msg_id === "g2")).toBe(false);
    expect(after.rows).toBe(3);
    expect(store.pendingCount(APP)).toBe(3 + maxSets);
    // The sets' entries are counted as they change: one more set goes past the bound again,
    // and only one of the oldest follows g2.
    groupSend(store, "h9999", ["dan"], SET_AGE_MS + 1);
    store.commit();
    expect(committed().sets.length).toBe(maxSets);
    expect(committed().rows).toBe(4);
    store.close();
  });

  it("[OFFLINE-PENDING-1] keeps a backlog's entries in sets: 5000 messages not acked yet make no row", () => {
    // Under a backlog the acks come late, and the sets of the messages in between pile up:
    // with 1024 sets at most, W2 at 17,469 msg/s moved every further message's entry to a
    // row and deleted it at the ack, and never caught up (issue 11).
    expect(MAX_SETS).toBeGreaterThanOrEqual(5000);
    const store = SqliteStore.open(dbPath);
    store.pendingFor(APP, "bob", 0);
    for (let i = 0; i < 5000; i++) groupSend(store, `b${i}`, ["bob"], 10);
    store.commit();
    expect(committed().rows).toBe(0);
    expect(committed().sets.length).toBe(5000);
    store.atomically(() =>
      store.removePending(
        APP,
        "bob",
        Array.from({ length: 5000 }, (_, i) => `b${i}`),
      ),
    );
    store.commit();
    expect(committed()).toEqual({ sets: [], rows: 0 });
    expect(store.pendingCount(APP)).toBe(0);
    store.close();
  });

  it("[OFFLINE-LIMIT-1] moves the oldest sets' entries to rows when the sets hold more than maxSetEntries", () => {
    const store = SqliteStore.open(dbPath, { maxSetEntries: 5 });
    for (const p of PEERS) store.pendingFor(APP, p, 0);
    groupSend(store, "g1", PEERS, 10);
    groupSend(store, "g2", ["bob", "carol"], 11);
    store.commit();
    expect(committed()).toEqual({
      sets: [
        { msg_id: "g1", peers: '["bob","carol","dan"]' },
        { msg_id: "g2", peers: '["bob","carol"]' },
      ],
      rows: 0,
    });
    // Six entries: g1, the oldest, goes to the rows, and g2 and g3 stay sets.
    groupSend(store, "g3", ["dan"], 12);
    store.commit();
    expect(committed()).toEqual({
      sets: [
        { msg_id: "g2", peers: '["bob","carol"]' },
        { msg_id: "g3", peers: '["dan"]' },
      ],
      rows: 3,
    });
    // Acks of set entries make room: the next sets need no row.
    store.atomically(() => store.removePending(APP, "bob", ["g2"]));
    store.atomically(() => store.removePending(APP, "carol", ["g2"]));
    groupSend(store, "g4", PEERS, 13);
    store.commit();
    expect(committed()).toEqual({
      sets: [
        { msg_id: "g3", peers: '["dan"]' },
        { msg_id: "g4", peers: '["bob","carol","dan"]' },
      ],
      rows: 3,
    });
    expect(store.pendingCount(APP)).toBe(7);
    expect(PEERS.map((p) => store.pendingFor(APP, p, 0).map((m) => m.id))).toEqual([
      ["g1", "g4"],
      ["g1", "g4"],
      ["g1", "g3", "g4"],
    ]);
    store.close();
  });

  it("[ERROR-NOEFFECT-1] undoes the ack of a set's entry in a failed block, which wrote no statement", () => {
    const store = SqliteStore.open(dbPath);
    for (const p of PEERS) store.pendingFor(APP, p, 0);
    groupSend(store, "g1", PEERS, 10);
    store.commit();
    expect(() =>
      store.atomically(() => {
        store.removePending(APP, "carol", ["g1"]);
        throw new Error("half-way");
      }),
    ).toThrow("half-way");
    expect(store.pendingCount(APP)).toBe(3);
    expect(store.pendingFor(APP, "carol", 0).map((m) => m.id)).toEqual(["g1"]);
    // And a failed block that made a set leaves neither the set nor the message.
    expect(() =>
      store.atomically(() => {
        groupSend(store, "g2", PEERS, 11);
        throw new Error("half-way");
      }),
    ).toThrow("half-way");
    expect(store.pendingCount(APP)).toBe(3);
    store.commit();
    expect(committed()).toEqual({
      sets: [{ msg_id: "g1", peers: '["bob","carol","dan"]' }],
      rows: 0,
    });
    store.close();
  });

  it("[OFFLINE-SWEEP-1] sweeps expired entries of sets as rows, in the rows' order", () => {
    const store = SqliteStore.open(dbPath);
    for (const p of PEERS) store.pendingFor(APP, p, 0);
    groupSend(store, "g1", PEERS, 10);
    groupSend(store, "g2", PEERS, 20);
    store.commit();
    expect(store.sweepExpired(15, 2)).toBe(2);
    store.commit();
    // g1's third entry is left for the next batch; g2 is not expired and stays a set.
    expect(committed()).toEqual({
      sets: [{ msg_id: "g2", peers: '["bob","carol","dan"]' }],
      rows: 1,
    });
    expect(store.sweepExpired(15, 2)).toBe(1);
    expect(store.pendingCount(APP)).toBe(3);
    store.close();
  });
});

// SQLite ends the whole transaction by itself on some errors (SQLITE_FULL, I/O, out of
// memory): the writes of every command since the last commit are gone, not only those of the
// command that failed, and the adapter still holds the acks of the others until the commit.
describe("SqliteStore when SQLite rolls the transaction back by itself", () => {
  /** Makes the database full (max_page_count) for the store's own connection, runs `fn`, and lifts the bound again. */
  function whileFull(store: SqliteStore, fn: () => void): void {
    const db = (store as unknown as { db: Database.Database }).db;
    const pages = db.pragma("page_count", { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    try {
      fn();
    } finally {
      db.pragma("max_page_count = 4294967294");
    }
  }

  /** Stores messages of 4 KiB until the disk is full; the error SQLite gave. */
  function fillUp(store: SqliteStore): unknown {
    for (let i = 0; i < 10_000; i++) {
      try {
        store.atomically(() =>
          store.insertMessage(message({ id: `fill${i}`, msg: "x".repeat(4096) })),
        );
      } catch (err) {
        return err;
      }
    }
    return undefined;
  }

  it("[ACK-DURABLE-1] [ERROR-NOEFFECT-1] fails the next commit, which rolls back every write since the last one, and then works again", () => {
    const store = SqliteStore.open(dbPath);
    store.atomically(() => store.insertMessage(message({ id: "before" })));
    store.commit();
    // Command 1 succeeds: the adapter holds its ack until the next commit.
    store.atomically(() => {
      store.insertMessage(message({ id: "acked" }));
      store.addPending(APP, "bob", "acked", 1000, 50);
    });
    let full: unknown;
    whileFull(store, () => {
      full = fillUp(store);
    });
    expect((full as { code?: string } | undefined)?.code).toBe("SQLITE_FULL");
    // A command after the failure, in the same batch: its ack would be released by the same
    // commit as command 1's.
    store.atomically(() => store.insertMessage(message({ id: "after" })));
    expect(() => store.commit()).toThrow(/rolled back/);
    // Nothing of the batch is stored, and the store says so: the mirrors were dropped too.
    for (const id of ["acked", "after"]) expect(store.getMessage(APP, id)).toBeUndefined();
    expect(store.pendingFor(APP, "bob", 0)).toEqual([]);
    expect(store.pendingCount(APP)).toBe(0);
    // The failure is reported once; the next batch commits as usual.
    store.atomically(() => store.insertMessage(message({ id: "later" })));
    expect(() => store.commit()).not.toThrow();
    store.close();
    const reopened = SqliteStore.open(dbPath);
    expect(reopened.getMessage(APP, "before")?.id).toBe("before");
    expect(reopened.getMessage(APP, "later")?.id).toBe("later");
    for (const id of ["acked", "after"]) expect(reopened.getMessage(APP, id)).toBeUndefined();
    reopened.close();
  });

  it("[ACK-DURABLE-1] [ERROR-NOEFFECT-1] takes back the changes of pending sets with the rest, keeping what was committed", () => {
    const store = SqliteStore.open(dbPath);
    for (const p of ["bob", "carol"]) store.pendingFor(APP, p, 0);
    const group = (id: string, timestamp: number) =>
      store.atomically(() => {
        store.insertMessage(message({ id, cid: "r1", roomId: "r1", toPeerIds: [], timestamp }));
        store.addPendingMany(APP, ["bob", "carol"], id, timestamp, 50);
      });
    group("g1", 10);
    store.commit();
    // In the batch that is lost: carol's ack of g1 (in memory only) and a new set, g2.
    store.atomically(() => store.removePending(APP, "carol", ["g1"]));
    group("g2", 11);
    whileFull(store, () => {
      fillUp(store);
    });
    expect(() => store.commit()).toThrow(/rolled back/);
    expect(store.pendingCount(APP)).toBe(2);
    for (const p of ["bob", "carol"]) {
      expect(store.pendingFor(APP, p, 0).map((m) => m.id)).toEqual(["g1"]);
    }
    store.close();
  });

  it("[ERROR-NOEFFECT-1] forgets the members it read of a batch that is lost", () => {
    const store = SqliteStore.open(dbPath);
    store.atomically(() => {
      store.createRoom(APP, "r1", 1);
      store.addMembers(APP, "r1", ["alice"]);
    });
    store.commit();
    store.atomically(() => store.addMembers(APP, "r1", ["bob"]));
    expect(store.members(APP, "r1")).toEqual(["alice", "bob"]);
    whileFull(store, () => {
      fillUp(store);
    });
    expect(() => store.commit()).toThrow(/rolled back/);
    expect(store.members(APP, "r1")).toEqual(["alice"]);
    store.close();
  });

  it("[ACK-DURABLE-1] leaves the failure to the batch's commit when a history read comes first", () => {
    const store = SqliteStore.open(dbPath);
    // Committed, but its history keys are not written yet (they are, in batches).
    store.atomically(() => store.insertMessage(message({ id: "before" })));
    store.commit();
    store.atomically(() => store.insertMessage(message({ id: "acked" })));
    whileFull(store, () => {
      fillUp(store);
    });
    // A REST history read between two commits writes the history keys and commits them at
    // once when no transaction is open: it must not be the commit that swallows the failure.
    expect(store.history({ appId: APP, limit: 10 }).map((m) => m.id)).toEqual(["before"]);
    expect(() => store.commit()).toThrow(/rolled back/);
    store.close();
  });

  it("[ACK-DURABLE-1] reports the loss from close, and closes all the same", () => {
    const store = SqliteStore.open(dbPath);
    store.atomically(() => store.insertMessage(message({ id: "acked" })));
    whileFull(store, () => {
      fillUp(store);
    });
    expect(() => store.close()).toThrow(/rolled back/);
    // Closed: the last connection removed the log.
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    const reopened = SqliteStore.open(dbPath);
    expect(reopened.getMessage(APP, "acked")).toBeUndefined();
    reopened.close();
  });
});

describe("SqliteStore housekeeping", () => {
  it("purges a bounded number of expired nonces per use", () => {
    const store = SqliteStore.open(dbPath);
    for (let i = 0; i < 40; i++) store.useNonce(APP, `n${i}`, 100, 0);
    store.commit();
    const db = new Database(dbPath, { readonly: true });
    const count = () => (db.prepare("SELECT count(*) AS n FROM nonces").get() as { n: number }).n;
    expect(count()).toBe(40);
    store.useNonce(APP, "fresh", 10_000, 200);
    store.commit();
    expect(count()).toBe(40 - NONCE_PURGE_BATCH + 1);
    db.close();
    store.close();
  });
});

// Random operation sequences on both stores must give the same answers, and the same
// failures: the contract suite checks chosen cases, this checks the combinations.
describe("SqliteStore against MemoryStore", () => {
  type Op =
    | {
        op: "insert";
        id: string;
        cid: string;
        from: string;
        to: string[];
        room: boolean;
        t: number;
      }
    | { op: "addPending"; peer: string; id: string; t: number; limit: number }
    | { op: "addPendingMany"; peers: string[]; id: string; t: number; limit: number }
    | { op: "pendingFor"; peer: string; notBefore: number }
    | { op: "removePending"; peer: string; ids: string[] }
    | { op: "history"; cid?: string; from?: string; maxTs?: number; msgId?: string; limit: number }
    | { op: "isParticipant"; cid: string; peer: string }
    | { op: "createRoom"; room: string }
    | { op: "addMembers"; room: string; peers: string[] }
    | { op: "removeMembers"; room: string; peers: string[] }
    | { op: "members"; room: string }
    | { op: "roomsOf"; peer: string; after?: string; limit: number }
    | { op: "useNonce"; app: string; nonce: string; expiresAt: number; now: number }
    | { op: "sweep"; notBefore: number; maxRows: number }
    | { op: "pendingCount" }
    | { op: "commit" };

  const id = fc.constantFrom("a", "b", "c", "d", "e", "B", "_");
  const peer = fc.constantFrom("p1", "p2", "p3");
  const cid = fc.constantFrom("c1", "c2", "r1");
  const t = fc.integer({ min: 0, max: 3 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constant("insert" as const),
      id,
      cid,
      from: peer,
      to: fc.uniqueArray(peer, { maxLength: 2 }),
      room: fc.boolean(),
      t,
    }),
    fc.record({
      op: fc.constant("addPending" as const),
      peer,
      id,
      t,
      limit: fc.integer({ min: 0, max: 3 }),
    }),
    fc.record({
      op: fc.constant("addPendingMany" as const),
      // A peer may come twice, and the JSON array SQLite reads must give back any id.
      peers: fc.array(fc.oneof(peer, fc.constant('p"\u00e9\u{1F600}')), { maxLength: 4 }),
      id,
      t,
      limit: fc.integer({ min: 0, max: 3 }),
    }),
    fc.record({ op: fc.constant("pendingFor" as const), peer, notBefore: t }),
    fc.record({
      op: fc.constant("removePending" as const),
      peer,
      ids: fc.array(id, { maxLength: 4 }),
    }),
    fc.record(
      {
        op: fc.constant("history" as const),
        cid,
        from: peer,
        maxTs: t,
        msgId: id,
        limit: fc.integer({ min: 0, max: 4 }),
      },
      { requiredKeys: ["op", "limit"] },
    ),
    fc.record({ op: fc.constant("isParticipant" as const), cid, peer }),
    fc.record({ op: fc.constant("createRoom" as const), room: cid }),
    fc.record({
      op: fc.constant("addMembers" as const),
      room: cid,
      peers: fc.array(peer, { maxLength: 3 }),
    }),
    fc.record({
      op: fc.constant("removeMembers" as const),
      room: cid,
      peers: fc.array(peer, { maxLength: 3 }),
    }),
    fc.record({ op: fc.constant("members" as const), room: cid }),
    fc.record(
      {
        op: fc.constant("roomsOf" as const),
        peer,
        after: fc.constantFrom("c", "c1", "c2", "r"),
        limit: fc.integer({ min: 0, max: 3 }),
      },
      { requiredKeys: ["op", "peer", "limit"] },
    ),
    fc.record({
      op: fc.constant("useNonce" as const),
      app: fc.constantFrom(APP, "app2"),
      nonce: fc.constantFrom("n1", "n2"),
      expiresAt: fc.integer({ min: 0, max: 6 }),
      now: t,
    }),
    fc.record({
      op: fc.constant("sweep" as const),
      notBefore: fc.integer({ min: 0, max: 4 }),
      maxRows: fc.integer({ min: 0, max: 3 }),
    }),
    fc.record({ op: fc.constant("pendingCount" as const) }),
    fc.record({ op: fc.constant("commit" as const) }),
  );

  function apply(store: Store, o: Op): unknown {
    switch (o.op) {
      case "insert":
        return store.insertMessage(
          message({
            id: o.id,
            cid: o.cid,
            fromPeerId: o.from,
            toPeerIds: o.room ? [] : o.to,
            roomId: o.room ? o.cid : undefined,
            timestamp: o.t,
          }),
        );
      case "addPending":
        return store.addPending(APP, o.peer, o.id, o.t, o.limit);
      case "addPendingMany":
        return store.addPendingMany(APP, o.peers, o.id, o.t, o.limit);
      case "pendingFor":
        return store.pendingFor(APP, o.peer, o.notBefore);
      case "removePending":
        return store.removePending(APP, o.peer, o.ids);
      case "history":
        return store.history({
          appId: APP,
          cid: o.cid,
          fromPeerId: o.from,
          maxTs: o.maxTs,
          msgId: o.msgId,
          limit: o.limit,
        });
      case "isParticipant":
        return store.isParticipant(APP, o.cid, o.peer);
      case "createRoom":
        return store.createRoom(APP, o.room, 1);
      case "addMembers":
        return store.addMembers(APP, o.room, o.peers);
      case "removeMembers":
        return store.removeMembers(APP, o.room, o.peers);
      case "members":
        return [store.roomExists(APP, o.room), store.members(APP, o.room)];
      case "roomsOf":
        return store.roomsOf(APP, o.peer, o.after, o.limit);
      case "useNonce":
        return store.useNonce(o.app, o.nonce, o.expiresAt, o.now);
      case "sweep":
        return store.sweepExpired(o.notBefore, o.maxRows);
      case "pendingCount":
        return store.pendingCount(APP);
      case "commit":
        return store.commit();
    }
  }

  /** The op's result, or "throws" (the stores' error messages differ, the fact must not). */
  function outcome(store: Store, o: Op): unknown {
    try {
      return apply(store, o);
    } catch {
      return "throws";
    }
  }

  it("gives the same result as MemoryStore for every operation of any sequence", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const memory = new MemoryStore();
        const sqlite = SqliteStore.open(":memory:");
        try {
          for (const o of ops) expect(outcome(sqlite, o)).toStrictEqual(outcome(memory, o));
        } finally {
          sqlite.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("SqliteStore history keys", () => {
  /** What another connection sees: the keys in each key table, and history_mark. */
  const keys = () => {
    const db = new Database(dbPath, { readonly: true });
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const seen = {
      cid: count("history_by_cid"),
      from: count("history_by_from"),
      app: count("history_by_app"),
      mark: (db.prepare("SELECT upto FROM history_mark").get() as { upto: number }).upto,
    };
    db.close();
    return seen;
  };
  let n = 0;
  const send = (store: SqliteStore, count: number) => {
    for (let k = 0; k < count; k++, n++) {
      store.insertMessage(message({ id: `h${n}`, timestamp: 100 + n }));
    }
    store.commit();
  };
  const all = (store: SqliteStore) =>
    store
      .history({ appId: APP, limit: 100 })
      .map((m) => m.id)
      .sort();
  const ids = (count: number) => Array.from({ length: count }, (_, k) => `h${k}`).sort();

  it("[LOGS-ORDER-1] writes a due batch one key table per commit, and moves the mark with the last", () => {
    n = 0;
    const store = SqliteStore.open(dbPath, { historyBatch: 4 });
    send(store, 3);
    expect(keys()).toEqual({ cid: 0, from: 0, app: 0, mark: 0 });
    // The batch is due: its first table in this commit, the others in the next two (the
    // messages stored meanwhile wait for the next batch).
    send(store, 1);
    expect(keys()).toEqual({ cid: 4, from: 0, app: 0, mark: 0 });
    send(store, 1);
    expect(keys()).toEqual({ cid: 4, from: 4, app: 0, mark: 0 });
    send(store, 1);
    expect(keys()).toEqual({ cid: 4, from: 4, app: 4, mark: 4 });
    // Two messages above the mark: no batch yet.
    send(store, 1);
    expect(keys()).toEqual({ cid: 4, from: 4, app: 4, mark: 4 });
    // A history read writes every key first, whatever the batch's step.
    send(store, 2); // 9 messages: the second batch's first table
    expect(keys()).toEqual({ cid: 9, from: 4, app: 4, mark: 4 });
    expect(all(store)).toEqual(ids(9));
    expect(keys()).toEqual({ cid: 9, from: 9, app: 9, mark: 9 });
    // And the next batch starts from there.
    send(store, 4);
    expect(keys()).toEqual({ cid: 13, from: 9, app: 9, mark: 9 });
    store.close();
    expect(keys()).toEqual({ cid: 13, from: 13, app: 13, mark: 13 });
  });

  it("[ACK-DURABLE-1] finds every key after a crash in the middle of a batch", () => {
    n = 0;
    const store = SqliteStore.open(dbPath, { historyBatch: 4 });
    send(store, 4);
    send(store, 1);
    expect(keys()).toEqual({ cid: 4, from: 4, app: 0, mark: 0 });
    // A crash: the store's connection goes without its last indexing.
    (store as unknown as { db: Database.Database }).db.close();
    const again = SqliteStore.open(dbPath, { historyBatch: 4 });
    // The messages above the mark are a batch again (their keys written twice: OR IGNORE).
    send(again, 1);
    expect(keys()).toEqual({ cid: 6, from: 4, app: 0, mark: 0 });
    send(again, 1);
    send(again, 1);
    expect(keys()).toEqual({ cid: 6, from: 6, app: 6, mark: 6 });
    expect(all(again)).toEqual(ids(8));
    again.close();
  });
});
