/**
 * A command that fails leaves no trace, in storage or in memory, whatever step fails
 * [ERROR-NOEFFECT-1, SESSION-OPEN-6, SESSION-REOPEN-5].
 *
 * Every store call and every change to the in-memory session indexes is a "step". For
 * random states built by random commands, each next command is first run with a failure
 * injected at its 1st step, then its 2nd, … until it runs through: every failed run must
 * answer with exactly one error frame (4200) and leave the engine's in-memory state and
 * the store exactly as they were. Then the command runs for real, and the next one is
 * tried the same way.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/core/engine.js";
import { AppState } from "../../src/core/state.js";
import type { Output } from "../../src/core/types.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { Store } from "../../src/store/store.js";

const APP = "app1";
const PEERS = ["a", "b", "c"] as const;
const CONNS = [1, 2] as const;
const ROOMS = ["r1", "r2"] as const;

/** The injected failure; anything else thrown is a bug of the test. */
class Injected extends Error {}

/** Counts steps and throws at the one chosen. */
const fault = {
  at: 0,
  seen: 0,
  step(): void {
    this.seen++;
    if (this.seen === this.at) throw new Injected(`injected at step ${this.at}`);
  },
};

/** Wraps a store so that every method call but `atomically` and the reads of a snapshot is a step. */
function faultyStore(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "atomically") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) => {
        fault.step();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

// Every in-memory index change is a step too (the watch set's Map filling up was the way a
// real session/open failed after opening its session, issue 8.6).
for (const name of ["addSession", "removeSession", "watch", "unwatch", "setSuperPeer"] as const) {
  const original = AppState.prototype[name] as (...a: unknown[]) => unknown;
  (AppState.prototype as unknown as Record<string, unknown>)[name] = function (
    this: AppState,
    ...args: unknown[]
  ) {
    fault.step();
    return original.apply(this, args);
  };
}

/** What a command is, by pool index, so that shrinking stays stable. */
type Cmd =
  | { op: "open"; conn: number; peer: number; watch: number[]; sp: boolean }
  | { op: "add" | "remove" | "query"; conn: number; peer: number; watch: number[] }
  | { op: "close"; conn: number; peer: number }
  | { op: "direct"; conn: number; peer: number; to: number[]; transient: boolean; r: boolean }
  | { op: "group"; conn: number; peer: number; room: number }
  | { op: "join" | "leave"; conn: number; peer: number; room: number }
  | { op: "invite" | "kick"; conn: number; peer: number; room: number; who: number[] }
  | { op: "ack"; conn: number; peer: number };

const idx = (n: number) => fc.integer({ min: 0, max: n - 1 });
const ids = (n: number) => fc.array(idx(n), { maxLength: 3 });
const base = { conn: idx(CONNS.length), peer: idx(PEERS.length) };
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant("open" as const), ...base, watch: ids(3), sp: fc.boolean() }),
  fc.record({
    op: fc.constantFrom("add" as const, "remove" as const, "query" as const),
    ...base,
    watch: ids(3),
  }),
  fc.record({ op: fc.constant("close" as const), ...base }),
  fc.record({
    op: fc.constant("direct" as const),
    ...base,
    to: ids(3),
    transient: fc.boolean(),
    r: fc.boolean(),
  }),
  fc.record({ op: fc.constant("group" as const), ...base, room: idx(ROOMS.length) }),
  fc.record({
    op: fc.constantFrom("join" as const, "leave" as const),
    ...base,
    room: idx(ROOMS.length),
  }),
  fc.record({
    op: fc.constantFrom("invite" as const, "kick" as const),
    ...base,
    room: idx(ROOMS.length),
    who: ids(3),
  }),
  fc.record({ op: fc.constant("ack" as const), ...base }),
);

/** The frame of a command, with `i` so that every outcome is answered. */
function frameOf(c: Cmd, serial: number, lastIds: readonly string[]): Record<string, unknown> {
  const peerId = PEERS[c.peer] as string;
  const env = { peerId, appId: APP, i: serial };
  const peers = (xs: number[]) => xs.map((k) => PEERS[k] as string);
  switch (c.op) {
    case "open":
      return { cmd: "session", op: "open", ...env, sessionPeerIds: peers(c.watch), sp: c.sp };
    case "add":
    case "remove":
    case "query":
      return { cmd: "session", op: c.op, ...env, sessionPeerIds: peers(c.watch) };
    case "close":
      return { cmd: "session", op: "close", ...env };
    case "direct":
      return {
        cmd: "direct",
        ...env,
        msg: `m${serial}`,
        toPeerIds: peers(c.to).length > 0 ? peers(c.to) : ["b"],
        transient: c.transient,
        r: c.r,
      };
    case "group":
      return { cmd: "direct", ...env, msg: `g${serial}`, roomId: ROOMS[c.room] };
    case "join":
    case "leave":
      return { cmd: "room", op: c.op, ...env, roomId: ROOMS[c.room] };
    case "invite":
    case "kick":
      return { cmd: "room", op: c.op, ...env, roomId: ROOMS[c.room], roomPeerIds: peers(c.who) };
    case "ack":
      return { cmd: "ack", ...env, ids: lastIds.length > 0 ? [...lastIds] : ["none"] };
  }
}

/** Everything a failed command could have changed, as plain data. */
function snapshot(engine: Engine, store: MemoryStore): unknown {
  // The apps' counts too (sessions, watch entries, connections): a rolled-back open that
  // left its session counted shows nowhere else until the app's bound refuses too early.
  const memory = engine.inspect();
  return {
    memory,
    history: store.history({ appId: APP, limit: 1000 }),
    pending: PEERS.map((p) => store.pendingFor(APP, p, 0).map((m) => m.id)),
    rooms: ROOMS.map((r) => (store.roomExists(APP, r) ? store.members(APP, r) : null)),
  };
}

describe("atomicity of commands (8.4)", () => {
  it("[ERROR-NOEFFECT-1] [SESSION-OPEN-6] [SESSION-REOPEN-5] leaves memory and storage unchanged when any step of any command fails", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 25 }), (cmds) => {
        const store = new MemoryStore();
        // Groups exist up front, so that commands on them do more than fail with 4404.
        for (const r of ROOMS) {
          store.createRoom(APP, r, 0);
          store.addMembers(APP, r, ["a", "b"]);
        }
        const engine = new Engine(faultyStore(store), { rateLimit: { perSecond: 0, burst: 0 } });
        const now = 1_000_000;
        for (const conn of CONNS) {
          engine.connect(conn, now);
          // The first command binds the connection to its app, whatever its outcome
          // [SESSION-APP-1]; bind up front so that the binding is not counted as a trace.
          const bind = JSON.stringify({ cmd: "session", op: "query", peerId: "z", appId: APP });
          engine.receiveText(conn, bind, bind.length, now);
        }
        let serial = 0;
        let delivered: string[] = [];
        for (const c of cmds) {
          serial++;
          const conn = CONNS[c.conn] as number;
          const text = JSON.stringify(frameOf(c, serial, delivered));
          let outputs: Output[] = [];
          for (let at = 1; ; at++) {
            const before = snapshot(engine, store);
            fault.at = at;
            fault.seen = 0;
            outputs = engine.receiveText(conn, text, text.length, now + serial);
            const injected = fault.seen >= at;
            fault.at = 0;
            if (!injected) break; // ran through: this is the real outcome
            const replies = outputs.filter((o) => o.type === "send" && o.conn === conn);
            const closes = outputs.filter((o) => o.type === "close");
            // A failure after the one reply is out keeps the command (SERIAL-REPLY-1): then
            // the reply, not an error, is what the client saw, and state may change.
            const reply = replies.find(
              (o) => o.type === "send" && "i" in o.frame && o.frame.i === serial,
            );
            if (reply?.type === "send" && reply.frame.cmd !== "error") continue;
            expect(closes, `${text} failing at step ${at}`).toEqual([]);
            expect(
              outputs.map((o) => (o.type === "send" ? o.frame : o)),
              `${text} failing at step ${at}`,
            ).toEqual([expect.objectContaining({ cmd: "error", code: 4200, i: serial })]);
            expect(snapshot(engine, store), `${text} failing at step ${at}`).toEqual(before);
            expect(engine.audit(), `${text} failing at step ${at}`).toEqual([]);
          }
          // What the command did for real agrees with a recount from the connections.
          expect(engine.audit(), text).toEqual([]);
          delivered = outputs.flatMap((o) =>
            o.type === "send" && o.frame.cmd === "direct" && "id" in o.frame ? [o.frame.id] : [],
          );
        }
      }),
      { numRuns: 60 },
    );
  });
});
