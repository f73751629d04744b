/**
 * An in-process harness for the protocol core: fake connections, a controllable clock, and
 * the same commit-before-release rule as the ws adapter. Every frame the engine emits is
 * validated against the s2c schemas, so no test can pass on a malformed frame.
 */
import { httpValidators, validate } from "@confab/protocol";
import { expect } from "vitest";
import type { EngineConfig } from "../../src/core/config.js";
import { Engine } from "../../src/core/engine.js";
import type { NotifyOutput, Output } from "../../src/core/types.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { Store } from "../../src/store/store.js";

/** A frame as received by a fake client. */
export type Frame = Record<string, unknown>;

/** Name of an s2c frame as the registry spells it: `session/opened`, `direct`, `keepalive`. */
export function nameOf(frame: Frame): string {
  if (frame.cmd === undefined) return "keepalive";
  return frame.op === undefined ? String(frame.cmd) : `${String(frame.cmd)}/${String(frame.op)}`;
}

/** One fake client connection. */
export class FakeConn {
  readonly received: Frame[] = [];
  closed: { code: number; reason: string } | undefined;

  constructor(
    readonly h: Harness,
    readonly id: number,
  ) {}

  /** Sends a frame (object → JSON, string sent as is). */
  send(frame: Frame | string): this {
    const text = typeof frame === "string" ? frame : JSON.stringify(frame);
    this.h.run(this.h.engine.receiveText(this.id, text, Buffer.byteLength(text), this.h.now));
    return this;
  }

  /** Sends a command with this app id filled in. */
  cmd(peerId: string, cmd: string, op: string | undefined, fields: Frame = {}): this {
    const frame: Frame = { cmd, peerId, appId: this.h.appId, ...fields };
    if (op !== undefined) frame.op = op;
    return this.send(frame);
  }

  /** Opens a session for `peerId`, watching `watch`; returns the `opened` reply. */
  open(peerId: string, watch: string[] = [], extra: Frame = {}): Frame {
    this.cmd(peerId, "session", "open", { sessionPeerIds: watch, ...extra });
    return this.expectOne("session/opened");
  }

  /** Removes and returns every frame received so far. */
  drain(): Frame[] {
    return this.received.splice(0);
  }

  /** Removes and returns the received frames with this name. */
  take(name: string): Frame[] {
    const hits = this.received.filter((f) => nameOf(f) === name);
    for (const f of hits) this.received.splice(this.received.indexOf(f), 1);
    return hits;
  }

  /** Expects exactly one received frame with this name, removes and returns it. */
  expectOne(name: string): Frame {
    const hits = this.take(name);
    expect(
      hits.map(nameOf),
      `${name} frames on conn ${this.id}; other frames: ${JSON.stringify(this.received)}`,
    ).toEqual([name]);
    return hits[0] as Frame;
  }

  /** Expects nothing (left) received. */
  expectNothing(): void {
    expect(this.received).toEqual([]);
  }

  /** Closes the socket from the client side. */
  disconnect(): void {
    this.h.run(this.h.engine.disconnect(this.id, this.h.now));
  }
}

/** An engine with fake connections. */
export class Harness {
  readonly engine: Engine;
  readonly store: Store;
  readonly conns = new Map<number, FakeConn>();
  now = 1_700_000_000_000;
  appId = "app1";
  private nextId = 1;
  /** Commits observed, to check that outputs follow commits. */
  commits = 0;
  /** Offline notifications released, in order, each checked against the `push-notice` schema. */
  readonly notices: NotifyOutput[] = [];

  constructor(config: Partial<EngineConfig> = {}, store?: Store) {
    this.store = store ?? new MemoryStore();
    const s = this.store;
    const commit = s.commit.bind(s);
    s.commit = () => {
      this.commits++;
      commit();
    };
    this.engine = new Engine(this.store, config);
  }

  /** Opens a fake connection. */
  connect(): FakeConn {
    const c = new FakeConn(this, this.nextId++);
    this.conns.set(c.id, c);
    this.run(this.engine.connect(c.id, this.now));
    return c;
  }

  /** Advances the clock and runs the engine's timers. */
  advance(ms: number): void {
    this.now += ms;
    this.run(this.engine.tick(this.now));
  }

  /** Commits, then carries out outputs, checking each frame against the s2c schemas. */
  run(outputs: Output[]): void {
    this.store.commit();
    for (const o of outputs) {
      if (o.type === "notify") {
        const r = httpValidators["push-notice"]?.(o.notice);
        expect(r?.ok ? [] : r?.errors, `invalid notice ${JSON.stringify(o.notice)}`).toEqual([]);
        this.notices.push(o);
        continue;
      }
      const c = this.conns.get(o.conn);
      if (!c) throw new Error(`output for unknown connection ${o.conn}`);
      if (o.type === "close") {
        if (!c.closed) {
          c.closed = { code: o.code, reason: o.reason };
          this.run(this.engine.disconnect(c.id, this.now));
        }
        continue;
      }
      // A frame for a closed socket is never seen by its client.
      if (c.closed) continue;
      const r = validate("s2c", o.frame);
      expect(r.ok ? [] : r.errors, `invalid s2c frame ${JSON.stringify(o.frame)}`).toEqual([]);
      // The text the core serialised beforehand (a shared body) is what the adapter sends:
      // it must be exactly the frame's.
      if (o.text !== undefined) expect(o.text, "pre-serialised text").toBe(JSON.stringify(o.frame));
      c.received.push(o.frame as Frame);
    }
  }
}
