/**
 * The property-based run: fast-check `fc.commands` over a small pool of peers, devices and
 * one group, run with `fc.asyncModelRun` against the server. Immediate replies are checked
 * in lock-step inside each command; everything asynchronous is recorded and, after the
 * run, the kit heals (opens a session for every peer), flushes (a sentinel from every open
 * connection to every other peer: per-session order means everything earlier has come),
 * pages through history, and judges the record with the pure checkers of `history.ts`.
 *
 * Commands take pool indices, never ids, so that shrinking keeps them meaningful, and their
 * `toString` uses their arguments only (fast-check #367).
 * @module
 */
import { codeOf, conversationId, validate } from "@confab/protocol";
import fc from "fast-check";
import { type Connection, openConnection, Recorder } from "../connection.js";
import type { CaseContext } from "../context.js";
import { HarnessError, ServerFault } from "../errors.js";
import type { ExchangeEvent } from "../report.js";
import type { ProcessControl } from "../target.js";
import {
  type ConnRecord,
  checkAll,
  type Outcome,
  type PagedHistory,
  type RunHistory,
  type SentMessage,
  type Transition,
  type Violation,
} from "./history.js";

/** Peers in the pool. */
export const PEERS = 3;
/** Devices (connections) per peer. */
export const DEVICES = 2;
/** Bound of every wait of the run, ms. */
const WAIT_MS = 3_000;

/** What the model knows: which devices are open, who is in the group. */
export interface Model {
  /** `open[peer][device]`. */
  readonly open: boolean[][];
  /** Group members, when the outcome of every membership change is known. */
  readonly members: Set<number>;
}

/** One live device. */
interface Device {
  readonly conn: Connection;
  readonly record: ConnRecord & { frames: { frame: Record<string, unknown>; at: number }[] };
}

/** The system under test, and the record of the run. */
export class Real {
  readonly devices: (Device | undefined)[][] = Array.from({ length: PEERS }, () =>
    Array(DEVICES).fill(undefined),
  );
  readonly conns: (ConnRecord & { frames: { frame: Record<string, unknown>; at: number }[] })[] =
    [];
  readonly messages: SentMessage[] = [];
  readonly transitions: Transition[] = [];
  readonly uncertain = new Set<number>();
  readonly acked = new Set<string>();
  /** Operation indices of the crashes. */
  readonly crashes: number[] = [];
  readonly recorder = new Recorder();
  readonly members = new Set<number>([0]);
  /** The operation index, for ordering the record. */
  seq = 0;
  private texts = 0;
  groupId = "";

  constructor(
    readonly ctx: CaseContext,
    readonly peers: readonly string[],
  ) {}

  /** A message text unique in the run. */
  text(kind: string): string {
    this.texts++;
    return `${kind}-${this.texts}`;
  }

  online(peer: number): boolean {
    return this.devices[peer]?.some((d) => d !== undefined) ?? false;
  }

  liveConnsOf(peers: readonly number[]): string[] {
    return peers.flatMap((p) =>
      (this.devices[p] ?? []).flatMap((d) => (d === undefined ? [] : [d.conn.label])),
    );
  }

  /** Opens a session for `peer` on `device`, watching every other peer. */
  async open(peer: number, device: number): Promise<void> {
    const seq = ++this.seq;
    const conn = await openConnection(
      this.ctx.target.wsUrl,
      this.recorder.nextLabel(),
      this.recorder,
      {
        timeoutMs: WAIT_MS,
      },
    ).catch((err: Error) => {
      throw new ServerFault("FRAME-WS-1", `the handshake failed: ${err.message}`);
    });
    this.recorder.add({ conn: conn.label, kind: "connect", text: this.ctx.target.wsUrl });
    const watches = this.peers.map((_, i) => i).filter((i) => i !== peer);
    const peerId = this.peers[peer] as string;
    // A real client acknowledges every delivery [ACK-REMOVE-1]; the kit does so at once.
    conn.onFrame((f) => {
      if (f.cmd === "direct" && typeof f.id === "string" && conn.isOpen) {
        conn.send({ cmd: "ack", appId: this.ctx.appId(), peerId, ids: [f.id] });
        this.acked.add(f.id);
      }
    });
    const wasOnline = this.online(peer);
    const opened = await conn
      .request(
        {
          cmd: "session",
          op: "open",
          appId: this.ctx.appId(),
          peerId,
          sessionPeerIds: watches.map((w) => this.peers[w] as string),
        },
        WAIT_MS,
      )
      .catch((err: Error) => {
        throw new ServerFault("SESSION-OPEN-2", `session/open got no answer: ${err.message}`);
      });
    if (opened.cmd !== "session" || opened.op !== "opened") {
      throw new ServerFault("SESSION-OPEN-2", "session/open was not answered with session/opened", {
        actual: JSON.stringify(opened),
      });
    }
    const online = ((opened.onlineSessionPeerIds as string[] | undefined) ?? []).map((id) =>
      this.peers.indexOf(id),
    );
    const record = {
      label: conn.label,
      peer,
      openedSeq: seq,
      watches,
      openedOnline: online,
      frames: [] as { frame: Record<string, unknown>; at: number }[],
    };
    // The record's frames are the connection's, read at the end.
    Object.defineProperty(record, "frames", { get: () => conn.timedFrames, enumerable: true });
    this.conns.push(record);
    (this.devices[peer] as (Device | undefined)[])[device] = { conn, record };
    if (!wasOnline) this.transitions.push({ seq, peer, status: "on" });
  }

  /** Ends a session: `session/close` and its reply, then the close handshake; or a TCP cut. */
  async close(peer: number, device: number, how: "close" | "drop"): Promise<void> {
    const seq = ++this.seq;
    const d = this.devices[peer]?.[device];
    if (d === undefined) throw new HarnessError("close of a closed device");
    d.record.closedSeq = seq;
    d.record.closedHow = how;
    if (how === "close") {
      await d.conn
        .request(
          {
            cmd: "session",
            op: "close",
            appId: this.ctx.appId(),
            peerId: this.peers[peer] as string,
          },
          WAIT_MS,
        )
        .catch(() => undefined);
      await d.conn.close();
    } else {
      this.uncertain.add(peer);
      await d.conn.drop();
    }
    (this.devices[peer] as (Device | undefined)[])[device] = undefined;
    if (!this.online(peer)) this.transitions.push({ seq, peer, status: "off" });
  }

  /**
   * Sends a message and waits for its answer: an `ack` is ok, an `error` a failure, no
   * answer (the connection dropped) unknown. `dropAfter` cuts the connection right after
   * the send, so that the outcome is unknown (Maelstrom's indefinite case).
   */
  async send(args: {
    peer: number;
    device: number;
    to: number | "group";
    transient: boolean;
    receipt: boolean;
    dropAfter?: boolean;
    invalid?: boolean;
  }): Promise<Outcome> {
    const seq = ++this.seq;
    const d = this.devices[args.peer]?.[args.device];
    if (d === undefined) throw new HarnessError("send on a closed device");
    const text = this.text(args.invalid ? "bad" : args.transient ? "tr" : "m");
    const recipients =
      args.to === "group" ? [...this.members].filter((p) => p !== args.peer) : [args.to];
    const isMember = args.to !== "group" || this.members.has(args.peer);
    const m: SentMessage = {
      text,
      from: args.peer,
      fromConn: d.conn.label,
      to: args.to === "group" ? { group: true } : { peer: args.to },
      transient: args.transient,
      receipt: args.receipt,
      seq,
      outcome: "unknown",
      recipients: isMember ? recipients : [],
      liveConns: isMember && !args.dropAfter ? this.liveConnsOf(recipients) : [],
      ...(args.invalid && { invalid: true }),
    };
    this.messages.push(m);
    const frame: Record<string, unknown> = {
      cmd: "direct",
      appId: this.ctx.appId(),
      peerId: this.peers[args.peer],
      msg: text,
      ...(args.to === "group" ? { roomId: this.groupId } : { toPeerIds: [this.peers[args.to]] }),
      ...(args.transient && { transient: true }),
      ...(args.receipt && { r: true }),
      i: d.conn.nextSerial(),
    };
    if (args.invalid) {
      // An id over the length limit: the schemas refuse it, so the server must too.
      frame.toPeerIds = [`${"x".repeat(70)}`];
      delete frame.roomId;
      d.conn.sendInvalid(frame, "a recipient id over 64 characters (LIMIT-ID-1)");
    } else d.conn.send(frame);
    if (args.dropAfter) {
      await this.close(args.peer, args.device, "drop");
      return "unknown";
    }
    const reply = await d.conn.waitFor((f) => f.i === frame.i, WAIT_MS).catch(() => undefined);
    if (reply === undefined) return "unknown";
    if (reply.cmd === "ack") {
      m.outcome = "ok";
      m.id = String(reply.uid);
      m.timestamp = Number(reply.t);
      if (args.invalid) {
        throw new ServerFault(
          "FRAME-SCHEMA-2",
          "the server acknowledged a direct its schema refuses",
          { actual: JSON.stringify(reply) },
        );
      }
      if (!isMember) {
        throw new ServerFault(
          "ROOM-MSG-1",
          "the server accepted a group message from a non-member",
          { actual: JSON.stringify(reply) },
        );
      }
      return "ok";
    }
    m.outcome = "fail";
    if (args.invalid) {
      const expected = codeOf(validate("c2s", frame));
      if (reply.code !== expected) {
        throw new ServerFault("FRAME-SCHEMA-4", "a refused direct got the wrong code", {
          expected: `error ${expected}`,
          actual: JSON.stringify(reply),
        });
      }
      return "fail";
    }
    if (!isMember && reply.code === 4401) return "fail";
    throw new ServerFault(
      args.to === "group" ? "ROOM-MSG-2" : "ACK-REPLY-1",
      `a valid direct was refused`,
      { actual: JSON.stringify(reply) },
    );
  }

  /**
   * Kills the server with SIGKILL and restarts it on the same storage: every connection is
   * lost (as a drop), and presence is uncertain from then on; what was acked must survive.
   */
  async crash(control: ProcessControl): Promise<void> {
    const seq = ++this.seq;
    this.crashes.push(seq);
    this.recorder.add({ conn: "kit", kind: "note", text: "server killed with SIGKILL" });
    await control.kill();
    for (let p = 0; p < PEERS; p++) {
      this.uncertain.add(p);
      for (let d = 0; d < DEVICES; d++) {
        const dev = this.devices[p]?.[d];
        if (dev === undefined) continue;
        dev.record.closedSeq = seq;
        dev.record.closedHow = "drop";
        await dev.conn.waitClose(5_000).catch(() => dev.conn.ws.terminate());
        (this.devices[p] as (Device | undefined)[])[d] = undefined;
      }
      this.transitions.push({ seq, peer: p, status: "off" });
    }
    await control.restart();
    this.recorder.add({ conn: "kit", kind: "note", text: "server restarted on the same storage" });
  }

  /** A membership change by `peer` (join, leave, or kick of `other`), in lock-step. */
  async membership(
    op: "join" | "leave" | "kick",
    peer: number,
    device: number,
    other?: number,
  ): Promise<void> {
    ++this.seq;
    const d = this.devices[peer]?.[device];
    if (d === undefined) throw new HarnessError("membership change on a closed device");
    const frame: Record<string, unknown> = {
      cmd: "room",
      op,
      appId: this.ctx.appId(),
      peerId: this.peers[peer],
      roomId: this.groupId,
      ...(op === "kick" && { roomPeerIds: [this.peers[other as number]] }),
    };
    const reply = await d.conn.request(frame, WAIT_MS).catch((err: Error) => {
      throw new ServerFault(
        op === "join" ? "ROOM-JOIN-1" : op === "leave" ? "ROOM-LEAVE-1" : "ROOM-KICK-1",
        `room/${op} got no answer: ${err.message}`,
      );
    });
    const want = op === "join" ? "joined" : op === "leave" ? "left" : "kicked";
    if (reply.cmd !== "room" || reply.op !== want) {
      throw new ServerFault(
        op === "join" ? "ROOM-JOIN-1" : op === "leave" ? "ROOM-LEAVE-1" : "ROOM-KICK-1",
        `room/${op} by a ${this.members.has(peer) ? "member" : "non-member"} was not answered with room/${want}`,
        {
          actual: JSON.stringify(reply),
        },
      );
    }
    if (op === "join") this.members.add(peer);
    else if (op === "leave") this.members.delete(peer);
    else this.members.delete(other as number);
  }
}

type Cmd = fc.AsyncCommand<Model, Real, false>;

const peerArb = fc.integer({ min: 0, max: PEERS - 1 });
const deviceArb = fc.integer({ min: 0, max: DEVICES - 1 });

class OpenCmd implements Cmd {
  constructor(
    readonly peer: number,
    readonly device: number,
  ) {}
  check(m: Readonly<Model>) {
    return !(m.open[this.peer]?.[this.device] ?? true);
  }
  async run(m: Model, r: Real) {
    await r.open(this.peer, this.device);
    (m.open[this.peer] as boolean[])[this.device] = true;
  }
  toString() {
    return `open(${this.peer},${this.device})`;
  }
}

class CloseCmd implements Cmd {
  constructor(
    readonly peer: number,
    readonly device: number,
    readonly how: "close" | "drop",
  ) {}
  check(m: Readonly<Model>) {
    return m.open[this.peer]?.[this.device] ?? false;
  }
  async run(m: Model, r: Real) {
    await r.close(this.peer, this.device, this.how);
    (m.open[this.peer] as boolean[])[this.device] = false;
  }
  toString() {
    return `${this.how}(${this.peer},${this.device})`;
  }
}

class SendCmd implements Cmd {
  constructor(
    readonly peer: number,
    readonly device: number,
    readonly to: number,
    readonly transient: boolean,
    readonly receipt: boolean,
    readonly dropAfter: boolean,
  ) {}
  check(m: Readonly<Model>) {
    return (m.open[this.peer]?.[this.device] ?? false) && this.to !== this.peer;
  }
  async run(m: Model, r: Real) {
    await r.send({
      peer: this.peer,
      device: this.device,
      to: this.to,
      transient: this.transient,
      receipt: this.receipt && !this.transient,
      dropAfter: this.dropAfter,
    });
    if (this.dropAfter) (m.open[this.peer] as boolean[])[this.device] = false;
  }
  toString() {
    return `send(${this.peer},${this.device}→${this.to}${this.transient ? ",transient" : ""}${this.receipt ? ",r" : ""}${this.dropAfter ? ",drop" : ""})`;
  }
}

class InvalidSendCmd implements Cmd {
  constructor(
    readonly peer: number,
    readonly device: number,
    readonly to: number,
  ) {}
  check(m: Readonly<Model>) {
    return (m.open[this.peer]?.[this.device] ?? false) && this.to !== this.peer;
  }
  async run(_m: Model, r: Real) {
    await r.send({
      peer: this.peer,
      device: this.device,
      to: this.to,
      transient: false,
      receipt: false,
      invalid: true,
    });
  }
  toString() {
    return `invalidSend(${this.peer},${this.device}→${this.to})`;
  }
}

class GroupSendCmd implements Cmd {
  constructor(
    readonly peer: number,
    readonly device: number,
    readonly transient: boolean,
  ) {}
  check(m: Readonly<Model>) {
    return m.open[this.peer]?.[this.device] ?? false;
  }
  async run(_m: Model, r: Real) {
    await r.send({
      peer: this.peer,
      device: this.device,
      to: "group",
      transient: this.transient,
      receipt: false,
    });
  }
  toString() {
    return `groupSend(${this.peer},${this.device}${this.transient ? ",transient" : ""})`;
  }
}

class MembershipCmd implements Cmd {
  constructor(
    readonly op: "join" | "leave" | "kick",
    readonly peer: number,
    readonly device: number,
    readonly other: number,
  ) {}
  check(m: Readonly<Model>) {
    if (!(m.open[this.peer]?.[this.device] ?? false)) return false;
    if (this.op === "join") return !m.members.has(this.peer);
    // Groups outlive their members (ROOM-EMPTY-1), but a group with members exercises more.
    if (this.op === "leave") return m.members.has(this.peer) && m.members.size > 1;
    return m.members.has(this.peer) && m.members.has(this.other) && this.other !== this.peer;
  }
  async run(m: Model, r: Real) {
    await r.membership(this.op, this.peer, this.device, this.other);
    if (this.op === "join") m.members.add(this.peer);
    else if (this.op === "leave") m.members.delete(this.peer);
    else m.members.delete(this.other);
  }
  toString() {
    return `${this.op}(${this.peer},${this.device}${this.op === "kick" ? `,${this.other}` : ""})`;
  }
}

class CrashCmd implements Cmd {
  constructor(readonly control: ProcessControl) {}
  check() {
    return true;
  }
  async run(m: Model, r: Real) {
    await r.crash(this.control);
    for (const ds of m.open) ds.fill(false);
  }
  toString() {
    return "crash()";
  }
}

/**
 * The command arbitraries; `faults` adds TCP drops and sends cut before their answer,
 * `crashes` a SIGKILL and restart of the server at random points.
 */
export function commandArbitraries(faults: boolean, crashes?: ProcessControl): fc.Arbitrary<Cmd>[] {
  // Opens and sends are listed more than once: fc.commands draws its arbitraries
  // uniformly, and a sequence without open sessions exercises nothing.
  const open = fc.tuple(peerArb, deviceArb).map(([p, d]) => new OpenCmd(p, d));
  const arbs: fc.Arbitrary<Cmd>[] = [
    open,
    open,
    open,
    fc.tuple(peerArb, deviceArb).map(([p, d]) => new CloseCmd(p, d, "close")),
    fc
      .tuple(peerArb, deviceArb, peerArb, fc.boolean(), fc.boolean())
      .map(([p, d, to, t, rc]) => new SendCmd(p, d, to, t, rc, false)),
    fc
      .tuple(peerArb, deviceArb, peerArb, fc.boolean(), fc.boolean())
      .map(([p, d, to, t, rc]) => new SendCmd(p, d, to, t, rc, false)),
    fc
      .tuple(peerArb, deviceArb, peerArb, fc.boolean())
      .map(([p, d, to, rc]) => new SendCmd(p, d, to, false, rc, false)),
    fc
      .tuple(peerArb, deviceArb, peerArb)
      .map(([p, d, to]) => new SendCmd(p, d, to, false, true, false)),
    fc.tuple(peerArb, deviceArb, peerArb).map(([p, d, to]) => new InvalidSendCmd(p, d, to)),
    fc.tuple(peerArb, deviceArb, fc.boolean()).map(([p, d, t]) => new GroupSendCmd(p, d, t)),
    fc
      .tuple(
        fc.constantFrom("join" as const, "leave" as const, "kick" as const),
        peerArb,
        deviceArb,
        peerArb,
      )
      .map(([op, p, d, o]) => new MembershipCmd(op, p, d, o)),
  ];
  if (faults) {
    arbs.push(fc.tuple(peerArb, deviceArb).map(([p, d]) => new CloseCmd(p, d, "drop")));
    arbs.push(
      fc
        .tuple(peerArb, deviceArb, peerArb)
        .map(([p, d, to]) => new SendCmd(p, d, to, false, false, true)),
    );
  }
  if (crashes !== undefined) arbs.push(fc.constant(new CrashCmd(crashes)));
  return arbs;
}

/**
 * After the commands: open a session for every peer that has none, flush with a sentinel
 * from every open connection to every other peer, wait for what the record says must
 * still come (bounded), page through every conversation's history, and check.
 */
export async function healAndCheck(
  r: Real,
  offlineCount: number,
  stats?: RunStats,
): Promise<Violation[]> {
  for (let p = 0; p < PEERS; p++) {
    if (!r.online(p)) await r.open(p, 0);
  }
  // The flush barrier: per-session order [DIRECT-ORDER-1] puts each sentinel after every
  // earlier message of its session; the offline burst comes before live frames [OFFLINE-BURST-1].
  const sentinels: { text: string; to: number }[] = [];
  for (let p = 0; p < PEERS; p++) {
    for (let d = 0; d < DEVICES; d++) {
      if (r.devices[p]?.[d] === undefined) continue;
      for (let q = 0; q < PEERS; q++) {
        if (q === p) continue;
        const before = r.messages.length;
        await r.send({ peer: p, device: d, to: q, transient: false, receipt: false });
        const m = r.messages[before] as SentMessage;
        sentinels.push({ text: m.text, to: q });
      }
    }
  }
  for (const s of sentinels) {
    for (const device of r.devices[s.to] ?? []) {
      if (device !== undefined)
        await device.conn
          .waitFor((f) => f.cmd === "direct" && f.msg === s.text, WAIT_MS)
          .catch(() => undefined);
    }
  }
  // What must still come: a receipt, or a delivery of an acked message. Wait for each, bounded.
  const deadline = Date.now() + WAIT_MS;
  for (const m of r.messages) {
    if (m.outcome !== "ok" || m.transient) continue;
    for (const p of m.recipients) {
      const has = () =>
        r.conns.some((c) => c.peer === p && c.frames.some((t) => t.frame.msg === m.text));
      while (!has() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    }
    const sender = r.conns.find((c) => c.label === m.fromConn);
    if (m.receipt && m.id !== undefined && sender !== undefined && sender.closedSeq === undefined) {
      const id = m.id;
      const has = () =>
        !r.acked.has(id) || sender.frames.some((t) => t.frame.cmd === "rcp" && t.frame.id === id);
      while (!has() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    }
  }
  // History: every pair's conversation, and the group's, by pages of 2 so that paging and
  // tied timestamps are exercised [LOGS-CURSOR-1].
  const histories: PagedHistory[] = [];
  const reader = r.devices.map((ds) => ds.find((d) => d !== undefined));
  for (let a = 0; a < PEERS; a++) {
    for (let b = a + 1; b < PEERS; b++) {
      const cid = conversationId([r.peers[a] as string, r.peers[b] as string]);
      const texts = r.messages
        .filter(
          (m) =>
            "peer" in m.to &&
            ((m.from === a && m.to.peer === b) || (m.from === b && m.to.peer === a)),
        )
        .map((m) => m.text);
      histories.push(await pages(r, reader[a] as Device, a, cid, texts));
    }
  }
  const member = [...r.members][0];
  if (member !== undefined && reader[member] !== undefined) {
    const texts = r.messages.filter((m) => "group" in m.to).map((m) => m.text);
    histories.push(await pages(r, reader[member] as Device, member, r.groupId, texts, true));
  }
  if (stats !== undefined) stats.historyItems += histories.reduce((n, h) => n + h.items.length, 0);
  const history: RunHistory = {
    peers: r.peers,
    conns: r.conns,
    messages: r.messages,
    transitions: r.transitions,
    uncertainPresence: r.uncertain,
    onlineAtEnd: r.peers.map((_, p) => r.online(p)),
    histories,
    offlineCount,
    crashes: r.crashes,
  };
  return checkAll(history, r.acked);
}

async function pages(
  r: Real,
  reader: Device,
  peer: number,
  cid: string,
  texts: string[],
  group = false,
): Promise<PagedHistory> {
  const items: Record<string, unknown>[] = [];
  const cursors: { max_ts: number; msgid: string }[] = [];
  let cursor: { max_ts: number; msgid: string } | undefined;
  // Who may read: a member its group's history [LOGS-AUTH-1], a participant its
  // conversation's [LOGS-AUTH-2]; a group gone after a crash broke ROOM-DURABLE-1.
  const allowed = group ? (r.crashes.length > 0 ? "ROOM-DURABLE-1" : "LOGS-AUTH-1") : "LOGS-AUTH-2";
  for (let page = 0; page < 100; page++) {
    const reply = await reader.conn
      .request(
        { cmd: "logs", appId: r.ctx.appId(), peerId: r.peers[peer], cid, limit: 2, ...cursor },
        WAIT_MS,
      )
      .catch((err: Error) => {
        throw new ServerFault("LOGS-SOCKET-1", `logs got no answer: ${err.message}`);
      });
    if (reply.cmd === "error") {
      throw new ServerFault(
        allowed,
        `a ${group ? "member's" : "participant's"} logs query was refused`,
        {
          actual: JSON.stringify(reply),
        },
      );
    }
    if (reply.cmd !== "logs")
      throw new ServerFault("LOGS-SOCKET-1", "logs was not answered with logs/result", {
        actual: JSON.stringify(reply),
      });
    const logs = reply.logs as Record<string, unknown>[];
    items.push(...logs);
    const last = logs[logs.length - 1];
    if (last === undefined || (logs.length < 2 && reply.more !== true)) break;
    cursor = { max_ts: Number(last.timestamp), msgid: String(last["msg-id"]) };
    cursors.push(cursor);
  }
  return { cid, texts, items, cursors };
}

/** Settings of one property run. */
export interface PropertySettings {
  readonly numRuns: number;
  readonly maxCommands: number;
  /** fast-check's size of the sequences: how long they are before the cap. */
  readonly size: "small" | "medium" | "large";
  readonly faults: boolean;
  /** Process control: adds crashes (SIGKILL and restart) to the commands. */
  readonly crashes?: ProcessControl;
  readonly seed: number;
  readonly path?: string;
  readonly replayPath?: string;
}

/** The outcome of {@link runProperty}: passed, or the shrunk failure with how to replay it. */
export type PropertyOutcome =
  | { readonly ok: true; readonly runs: number; readonly stats: RunStats }
  | {
      readonly ok: false;
      readonly violation: Violation;
      readonly all: readonly Violation[];
      readonly commands: string;
      readonly seed: number;
      readonly path: string;
      readonly replayPath?: string;
      readonly events: readonly ExchangeEvent[];
      readonly trace: unknown;
    };

/** What the passing runs exercised, so that a report shows the property did work. */
export interface RunStats {
  operations: number;
  messages: number;
  connections: number;
  deliveries: number;
  presence: number;
  receipts: number;
  historyItems: number;
  drops: number;
}

/** A failed run's record, thrown out of the property so fast-check shrinks it. */
class RunFailed extends Error {
  constructor(
    readonly violations: readonly Violation[],
    readonly events: readonly ExchangeEvent[],
    readonly trace: unknown,
  ) {
    super(violations.map((v) => `[${v.requirement}] ${v.message}`).join("\n"));
  }
}

/** Runs the property and returns its outcome (never throws for a server's fault). */
export async function runProperty(
  ctx: CaseContext,
  settings: PropertySettings,
  offlineCount: number,
): Promise<PropertyOutcome> {
  let runIndex = 0;
  const stats: RunStats = {
    operations: 0,
    messages: 0,
    connections: 0,
    deliveries: 0,
    presence: 0,
    receipts: 0,
    historyItems: 0,
    drops: 0,
  };
  const property = fc.asyncProperty(
    fc.commands(commandArbitraries(settings.faults, settings.crashes), {
      maxCommands: settings.maxCommands,
      size: settings.size,
      ...(settings.replayPath !== undefined && { replayPath: settings.replayPath }),
    }),
    async (cmds) => {
      runIndex++;
      const peers = Array.from({ length: PEERS }, (_, i) => ctx.peer(`r${runIndex}-${"abc"[i]}`));
      const real = new Real(ctx, peers);
      const model: Model = {
        open: Array.from({ length: PEERS }, () => Array(DEVICES).fill(false)),
        members: new Set([0]),
      };
      const violations: Violation[] = [];
      try {
        // The group: created by peer 0 on a connection of its own, kept open to the end so
        // that the group exists; peer 0's devices come and go like the others.
        await real.open(0, 0);
        const created = await real.devices[0]?.[0]?.conn.request(
          { cmd: "room", op: "join", appId: ctx.appId(), peerId: peers[0] },
          WAIT_MS,
        );
        if (
          created?.cmd !== "room" ||
          created.op !== "joined" ||
          typeof created.roomId !== "string"
        ) {
          throw new ServerFault("ROOM-JOIN-1", "room/join without roomId did not create a group", {
            actual: JSON.stringify(created),
          });
        }
        real.groupId = created.roomId;
        (model.open[0] as boolean[])[0] = true;
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        violations.push(...(await healAndCheck(real, offlineCount, stats)));
        stats.operations += real.seq;
        stats.messages += real.messages.length;
        stats.connections += real.conns.length;
        stats.drops += real.conns.filter((c) => c.closedHow === "drop").length;
        for (const c of real.conns) {
          for (const { frame } of c.frames) {
            if (frame.cmd === "direct") stats.deliveries++;
            if (frame.cmd === "presence") stats.presence++;
            if (frame.cmd === "rcp") stats.receipts++;
          }
        }
      } catch (err) {
        if (err instanceof ServerFault) {
          violations.push({ requirement: err.requirement, message: err.message, ...err.details });
        } else throw err;
      } finally {
        await Promise.all(real.conns.map(() => undefined));
        for (const ds of real.devices) for (const d of ds) d?.conn.ws.terminate();
      }
      if (violations.length > 0) {
        throw new RunFailed(violations, real.recorder.events, {
          commands: String(cmds),
          peers,
          groupId: real.groupId,
          messages: real.messages,
          connections: real.conns.map((c) => ({ ...c, frames: c.frames })),
          transitions: real.transitions,
          violations,
        });
      }
    },
  );
  const details = await fc.check(property, {
    numRuns: settings.numRuns,
    seed: settings.seed,
    ...(settings.path !== undefined && { path: settings.path }),
    endOnFailure: false,
    interruptAfterTimeLimit: 60_000,
  });
  if (!details.failed) return { ok: true, runs: details.numRuns, stats };
  const err = details.errorInstance;
  if (!(err instanceof RunFailed)) {
    throw err instanceof Error ? err : new HarnessError(`the property run failed: ${String(err)}`);
  }
  const commands = String(details.counterexample?.[0] ?? "");
  const replayPath = /replayPath="([^"]+)"/.exec(commands)?.[1];
  return {
    ok: false,
    violation: err.violations[0] as Violation,
    all: err.violations,
    commands,
    seed: details.seed,
    path: details.counterexamplePath ?? "",
    ...(replayPath !== undefined && { replayPath }),
    events: err.events,
    trace: err.trace,
  };
}
