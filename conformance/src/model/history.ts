/**
 * The recorded history of a property run, and the pure checkers that judge it (Jepsen's
 * way: operations are invoked and complete ok, fail or unknown; everything asynchronous is
 * checked after the run, on the record, by functions without I/O, so that they can be
 * unit-tested on hand-made histories).
 *
 * A `ConnRecord` is one connection, with every frame it received; a `SentMessage` one
 * message the kit sent, with its outcome. An `unknown` outcome (the connection dropped
 * before the reply) may have happened or not: every checker accepts both.
 * @module
 */

/** How an operation completed. */
export type Outcome = "ok" | "fail" | "unknown";

/** A frame a connection received, with when. */
export interface TimedFrame {
  readonly frame: Readonly<Record<string, unknown>>;
  /** Milliseconds since the run started. */
  readonly at: number;
}

/** One connection of the run: one session, opened once. */
export interface ConnRecord {
  /** The connection's label. */
  readonly label: string;
  /** The pool index of its peer. */
  readonly peer: number;
  /** The operation index that opened it. */
  readonly openedSeq: number;
  /** The operation index that ended it, when one did. */
  closedSeq?: number;
  /** `close` (session/close, then a close frame) or `drop` (TCP cut without a close). */
  closedHow?: "close" | "drop";
  /** Peers (pool indices) it watches. */
  readonly watches: readonly number[];
  /** `onlineSessionPeerIds` of its `session/opened`, as pool indices. */
  readonly openedOnline: readonly number[];
  /** Every frame it received, in order. */
  readonly frames: readonly TimedFrame[];
}

/** One message the kit sent. */
export interface SentMessage {
  /** The text, unique in the run. */
  readonly text: string;
  /** The sender's pool index and connection. */
  readonly from: number;
  readonly fromConn: string;
  /** A peer (pool index), or the group. */
  readonly to: { readonly peer: number } | { readonly group: true };
  readonly transient: boolean;
  readonly receipt: boolean;
  /** The operation index that sent it. */
  readonly seq: number;
  outcome: Outcome;
  /** From the `ack`: the id and timestamp. */
  id?: string;
  timestamp?: number;
  /** The peers that were to receive it when it was sent (the group's members, or the peer). */
  readonly recipients: readonly number[];
  /** The recipients' connections open when it was sent. */
  readonly liveConns: readonly string[];
  /** A kit-made invalid message the server had to refuse (ERROR-NOEFFECT-1). */
  readonly invalid?: boolean;
}

/** A change of a peer's online state, as the model sees it. */
export interface Transition {
  readonly seq: number;
  readonly peer: number;
  readonly status: "on" | "off";
}

/** One conversation's history, as the kit paged through it. */
export interface PagedHistory {
  /** The conversation id. */
  readonly cid: string;
  /** The messages that belong to it: their texts. */
  readonly texts: readonly string[];
  /** The items of every page, in order. */
  readonly items: readonly Readonly<Record<string, unknown>>[];
  /** The cursors the kit sent for the pages after the first. */
  readonly cursors?: readonly { readonly max_ts: number; readonly msgid: string }[];
}

/** Everything a run recorded. */
export interface RunHistory {
  /** Peer ids by pool index. */
  readonly peers: readonly string[];
  readonly conns: readonly ConnRecord[];
  readonly messages: readonly SentMessage[];
  /** The model's transitions of online state, in order. */
  readonly transitions: readonly Transition[];
  /** Peers with a dropped connection: when the server noticed is unknown. */
  readonly uncertainPresence: ReadonlySet<number>;
  /** Per peer, whether it is online at the end, in the model. */
  readonly onlineAtEnd: readonly boolean[];
  /** History pages read after the run. */
  readonly histories: readonly PagedHistory[];
  /** The announced offline count, to allow for eviction. */
  readonly offlineCount: number;
  /** Operation indices at which the server was killed and restarted (durability runs). */
  readonly crashes?: readonly number[];
}

/**
 * The requirement a lost acked message breaks: ACK-DURABLE-1 when a crash came after its
 * ack (the ack was sent before the commit), `otherwise` when none did.
 */
function lossRequirement(h: RunHistory, m: SentMessage, otherwise: string): string {
  return (h.crashes ?? []).some((seq) => seq > m.seq) ? "ACK-DURABLE-1" : otherwise;
}

/** One broken invariant. */
export interface Violation {
  readonly requirement: string;
  readonly message: string;
  readonly expected?: string;
  readonly actual?: string;
}

type Frame = Readonly<Record<string, unknown>>;

const isDelivery = (f: Frame) => f.cmd === "direct" && typeof f.id === "string";

function deliveriesOf(conn: ConnRecord): TimedFrame[] {
  return conn.frames.filter((t) => isDelivery(t.frame));
}

/** Messages by text, for looking deliveries up. */
function byText(h: RunHistory): Map<string, SentMessage> {
  return new Map(h.messages.map((m) => [m.text, m]));
}

/**
 * No unexpected message, no echo: every delivery is of a message the kit sent (valid,
 * accepted or unknown), to a peer that was to receive it [DIRECT-ONLY-1], never to its
 * sender's sessions without echo [ECHO-OFF-1, ECHO-NOTSELF-1], never a refused one
 * [ERROR-NOEFFECT-1].
 */
export function checkNoStrayDelivery(h: RunHistory): Violation[] {
  const out: Violation[] = [];
  const texts = byText(h);
  for (const conn of h.conns) {
    for (const { frame } of deliveriesOf(conn)) {
      const m = texts.get(String(frame.msg));
      if (m === undefined) {
        out.push({
          requirement: "DIRECT-ONLY-1",
          message: `${conn.label} received a message the run never sent`,
          actual: JSON.stringify(frame),
        });
        continue;
      }
      if (m.invalid === true || m.outcome === "fail") {
        out.push({
          requirement: "ERROR-NOEFFECT-1",
          message: `${conn.label} received "${m.text}", a command the server refused`,
          actual: JSON.stringify(frame),
        });
      } else if (m.from === conn.peer) {
        out.push({
          requirement: m.fromConn === conn.label ? "ECHO-NOTSELF-1" : "ECHO-OFF-1",
          message: `${conn.label} received its own peer's message "${m.text}" without echo`,
          actual: JSON.stringify(frame),
        });
      } else if (!m.recipients.includes(conn.peer)) {
        out.push({
          requirement: "DIRECT-ONLY-1",
          message: `${conn.label} (${h.peers[conn.peer]}) received "${m.text}" but was not a recipient when it was sent`,
          expected: `recipients ${m.recipients.map((p) => h.peers[p]).join(", ") || "none"}`,
          actual: JSON.stringify(frame),
        });
      }
    }
  }
  return out;
}

/** No message twice on one connection [DIRECT-ONCE-1]: each connection opens one session once. */
export function checkNoDuplicate(h: RunHistory): Violation[] {
  const out: Violation[] = [];
  for (const conn of h.conns) {
    const seen = new Set<string>();
    for (const { frame } of deliveriesOf(conn)) {
      const id = String(frame.id);
      if (seen.has(id)) {
        out.push({
          requirement: "DIRECT-ONCE-1",
          message: `${conn.label} received message ${id} ("${String(frame.msg)}") twice`,
        });
      }
      seen.add(id);
    }
  }
  return out;
}

/**
 * Order: the live deliveries on a connection of the messages one connection sent come in
 * the order the server accepted them [DIRECT-ORDER-1]; the offline burst comes oldest
 * first, by timestamp then id [OFFLINE-ORDER-1].
 */
export function checkOrder(h: RunHistory): Violation[] {
  const out: Violation[] = [];
  const texts = byText(h);
  for (const conn of h.conns) {
    const lastBySender = new Map<string, SentMessage>();
    let lastOffline: SentMessage | undefined;
    for (const { frame } of deliveriesOf(conn)) {
      const m = texts.get(String(frame.msg));
      if (m === undefined || m.outcome === "fail") continue;
      if (frame.offline === true) {
        if (
          lastOffline?.timestamp !== undefined &&
          m.timestamp !== undefined &&
          lastOffline.id !== undefined &&
          m.id !== undefined
        ) {
          const before =
            lastOffline.timestamp > m.timestamp ||
            (lastOffline.timestamp === m.timestamp && lastOffline.id > m.id);
          if (before) {
            out.push({
              requirement: "OFFLINE-ORDER-1",
              message: `${conn.label} received pending "${m.text}" after the newer "${lastOffline.text}"`,
            });
          }
        }
        lastOffline = m;
        continue;
      }
      const prev = lastBySender.get(m.fromConn);
      if (prev !== undefined && prev.seq > m.seq) {
        out.push({
          requirement: "DIRECT-ORDER-1",
          message: `${conn.label} received "${m.text}" live after "${prev.text}", which ${m.fromConn} sent later`,
        });
      }
      lastBySender.set(m.fromConn, m);
    }
  }
  return out;
}

/** How many acked persistent messages each peer was sent, to allow for eviction. */
function pendingLoad(h: RunHistory): Map<number, number> {
  const load = new Map<number, number>();
  for (const m of h.messages) {
    if (m.transient || m.outcome === "fail" || m.invalid) continue;
    for (const p of m.recipients) load.set(p, (load.get(p) ?? 0) + 1);
  }
  return load;
}

/**
 * No loss: every acked persistent message reaches every recipient peer, live or from the
 * offline store [ACK-PROMISE-2]; and it reaches, live, every connection of a recipient
 * that was open when it was sent and that the kit closed cleanly later (a dropped one may
 * have lost frames in flight) [DIRECT-DELIVER-1, ROOM-MSG-2]. A transient message is
 * never delivered from the store [TRANSIENT-STORE-1]. Peers sent more messages than the
 * offline store holds are not judged for loss (eviction is allowed).
 */
export function checkDelivery(h: RunHistory): Violation[] {
  const out: Violation[] = [];
  const load = pendingLoad(h);
  const gotBy = new Map<string, Set<number>>(); // text → peers that got it
  const connGot = new Map<string, Set<string>>(); // conn → texts
  for (const conn of h.conns) {
    const texts = new Set<string>();
    for (const { frame } of deliveriesOf(conn)) {
      const text = String(frame.msg);
      texts.add(text);
      const peers = gotBy.get(text) ?? new Set<number>();
      peers.add(conn.peer);
      gotBy.set(text, peers);
    }
    connGot.set(conn.label, texts);
  }
  const connByLabel = new Map(h.conns.map((c) => [c.label, c]));
  const messages = new Map(h.messages.map((m) => [m.text, m]));
  for (const conn of h.conns) {
    for (const { frame } of deliveriesOf(conn)) {
      const m = messages.get(String(frame.msg));
      if (m?.transient === true && frame.offline === true) {
        out.push({
          requirement: "TRANSIENT-STORE-1",
          message: `${conn.label} received transient "${m.text}" from the offline store`,
        });
      }
    }
  }
  for (const m of h.messages) {
    if (m.outcome !== "ok" || m.invalid) continue;
    if (!m.transient) {
      for (const p of m.recipients) {
        if ((load.get(p) ?? 0) > h.offlineCount) continue;
        if (!(gotBy.get(m.text)?.has(p) ?? false)) {
          out.push({
            requirement: lossRequirement(h, m, "ACK-PROMISE-2"),
            message: `"${m.text}" was acked (id ${m.id}) but never reached ${h.peers[p]}, live or from the offline store`,
            expected: `a delivery of ${m.id} to a session of ${h.peers[p]}`,
            actual: "none after the flush barrier",
          });
        }
      }
    }
    for (const label of m.liveConns) {
      const conn = connByLabel.get(label);
      if (conn === undefined || conn.closedHow === "drop") continue;
      if (!(connGot.get(label)?.has(m.text) ?? false)) {
        out.push({
          requirement:
            "to" in m && "group" in m.to
              ? "ROOM-MSG-2"
              : m.transient
                ? "TRANSIENT-DELIVER-1"
                : "DIRECT-DELIVER-1",
          message: `${label} was open when "${m.text}" was accepted but never received it live`,
        });
      }
    }
  }
  return out;
}

/**
 * Receipts: only for persistent one-recipient messages sent with `r: true`
 * [RECEIPT-IGNORE-1], at most one per message per session [RECEIPT-ONCE-1], and never
 * before the message reached the recipient [RECEIPT-SEND-1]; and a sender connection open
 * to the end gets the receipt of each of its requests that a recipient acknowledged.
 */
export function checkReceipts(h: RunHistory, ackedIds: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  const byId = new Map(
    h.messages.filter((m) => m.id !== undefined).map((m) => [m.id as string, m]),
  );
  const firstDelivery = new Map<string, number>();
  for (const conn of h.conns) {
    for (const { frame, at } of deliveriesOf(conn)) {
      const id = String(frame.id);
      if (!firstDelivery.has(id) || (firstDelivery.get(id) as number) > at)
        firstDelivery.set(id, at);
    }
  }
  for (const conn of h.conns) {
    const seen = new Set<string>();
    for (const { frame, at } of conn.frames) {
      if (frame.cmd !== "rcp") continue;
      const id = String(frame.id);
      const m = byId.get(id);
      if (
        m === undefined ||
        !m.receipt ||
        m.transient ||
        !("peer" in m.to) ||
        m.from !== conn.peer
      ) {
        out.push({
          requirement: "RECEIPT-IGNORE-1",
          message: `${conn.label} received a receipt for ${id}, which ${m === undefined ? "it never sent" : "asked for none"}`,
          actual: JSON.stringify(frame),
        });
        continue;
      }
      if (seen.has(id))
        out.push({
          requirement: "RECEIPT-ONCE-1",
          message: `${conn.label} received two receipts for ${id}`,
        });
      seen.add(id);
      const delivered = firstDelivery.get(id);
      if (delivered === undefined || delivered > at) {
        out.push({
          requirement: "RECEIPT-SEND-1",
          message: `${conn.label} received the receipt of "${m.text}" before any session of the recipient received the message`,
          expected: "the rcp after the recipient's acknowledgement of the delivery",
          actual:
            delivered === undefined
              ? "never delivered"
              : `rcp at ${at} ms, delivery at ${delivered} ms`,
        });
      }
    }
  }
  for (const m of h.messages) {
    if (!m.receipt || m.transient || m.outcome !== "ok" || m.id === undefined || !("peer" in m.to))
      continue;
    const sender = h.conns.find((c) => c.label === m.fromConn);
    if (sender === undefined || sender.closedSeq !== undefined || !ackedIds.has(m.id)) continue;
    const got = sender.frames.some((t) => t.frame.cmd === "rcp" && t.frame.id === m.id);
    if (!got) {
      out.push({
        requirement: "RECEIPT-SEND-1",
        message: `"${m.text}" asked for a receipt and was acknowledged by its recipient, but ${sender.label} (open to the end) got no rcp`,
      });
    }
  }
  return out;
}

/**
 * Presence: on each connection, the frames about one peer alternate [PRESENCE-ALT-1], name
 * only watched peers [PRESENCE-SCOPE-1], and, unless a connection of that peer was dropped
 * (the server notices a drop when it notices it), follow exactly the model's transitions
 * during the connection's life [PRESENCE-ON-2, PRESENCE-OFF-1, PRESENCE-DEVICES-1].
 */
export function checkPresence(h: RunHistory): Violation[] {
  const out: Violation[] = [];
  for (const conn of h.conns) {
    const state = new Map<number, "on" | "off">();
    for (let p = 0; p < h.peers.length; p++) {
      if (conn.watches.includes(p)) state.set(p, conn.openedOnline.includes(p) ? "on" : "off");
    }
    const observed = new Map<number, ("on" | "off")[]>();
    for (const { frame } of conn.frames) {
      if (frame.cmd !== "presence") continue;
      const status = frame.status as "on" | "off";
      for (const id of (frame.sessionPeerIds as string[] | undefined) ?? []) {
        const p = h.peers.indexOf(id);
        if (p < 0 || !conn.watches.includes(p)) {
          out.push({
            requirement: "PRESENCE-SCOPE-1",
            message: `${conn.label} received presence about ${id}, which it does not watch`,
          });
          continue;
        }
        if (state.get(p) === status) {
          out.push({
            requirement: "PRESENCE-ALT-1",
            message: `${conn.label} received "${status}" about ${id} twice in a row`,
          });
        }
        state.set(p, status);
        observed.set(p, [...(observed.get(p) ?? []), status]);
      }
    }
    for (const p of conn.watches) {
      // A dropped connection may have lost frames in flight; a dropped peer went off when
      // the server noticed, which the kit cannot see.
      if (h.uncertainPresence.has(p) || conn.closedHow === "drop") continue;
      const end = conn.closedSeq ?? Number.POSITIVE_INFINITY;
      const expected = h.transitions
        .filter((t) => t.peer === p && t.seq > conn.openedSeq && t.seq < end)
        .map((t) => t.status);
      const seen = observed.get(p) ?? [];
      if (JSON.stringify(expected) !== JSON.stringify(seen)) {
        const requirement =
          seen.length > expected.length
            ? "PRESENCE-DEVICES-1"
            : expected[seen.length] === "off"
              ? "PRESENCE-OFF-1"
              : "PRESENCE-ON-2";
        out.push({
          requirement,
          message: `${conn.label} saw presence of ${h.peers[p]} as [${seen.join(", ")}]`,
          expected: `[${expected.join(", ")}], the peer's sessions opening and ending while ${conn.label} was open`,
          actual: `[${seen.join(", ")}]`,
        });
      }
    }
  }
  return out;
}

/**
 * History: the pages of each conversation concatenate to the acked persistent messages,
 * newest first by timestamp then id [LOGS-ORDER-1], without a gap or a duplicate even
 * where timestamps tie [LOGS-CURSOR-1], never a transient [TRANSIENT-HISTORY-1] or refused
 * one [ERROR-NOEFFECT-1]; unknown outcomes may be there or not [ACK-PROMISE-1].
 */
export function checkHistory(h: RunHistory): Violation[] {
  const out: Violation[] = [];
  const messages = byText(h);
  for (const conv of h.histories) {
    const ids = new Set<string>();
    let prev: Readonly<Record<string, unknown>> | undefined;
    for (const item of conv.items) {
      const id = String(item["msg-id"]);
      if (ids.has(id))
        out.push({
          requirement: "LOGS-CURSOR-1",
          message: `history of ${conv.cid} returned ${id} twice across pages`,
        });
      ids.add(id);
      if (prev !== undefined) {
        const pt = Number(prev.timestamp);
        const t = Number(item.timestamp);
        const pid = String(prev["msg-id"]);
        if (pt < t || (pt === t && pid < id)) {
          out.push({
            requirement: "LOGS-ORDER-1",
            message: `history of ${conv.cid}: ${id} (${t}) after ${pid} (${pt})`,
          });
        }
      }
      prev = item;
      const m = messages.get(String(item.data));
      if (m?.transient === true)
        out.push({
          requirement: "TRANSIENT-HISTORY-1",
          message: `history holds transient "${m.text}"`,
        });
      if (m !== undefined && (m.outcome === "fail" || m.invalid === true)) {
        out.push({
          requirement: "ERROR-NOEFFECT-1",
          message: `history holds "${m.text}", which the server refused`,
        });
      }
    }
    const stored = new Set(conv.items.map((i) => String(i.data)));
    const cursors = conv.cursors ?? [];
    for (const text of conv.texts) {
      const m = messages.get(text);
      if (m === undefined || m.transient || m.outcome !== "ok" || m.invalid) continue;
      if (!stored.has(text)) {
        // Missing at a page boundary with its timestamp: the cursor skipped a tie.
        const atCursor = cursors.some((c) => c.max_ts === m.timestamp);
        out.push({
          requirement: atCursor ? "LOGS-CURSOR-1" : lossRequirement(h, m, "ACK-PROMISE-1"),
          message: `"${text}" was acked (id ${m.id}, timestamp ${m.timestamp}) but is missing from the history of ${conv.cid}`,
          expected: `${conv.texts.length} messages in the pages`,
          actual: `${conv.items.length} items`,
        });
      }
    }
  }
  return out;
}

/** Every checker, in the order a person reads the failures. */
export function checkAll(h: RunHistory, ackedIds: ReadonlySet<string>): Violation[] {
  return [
    ...checkNoStrayDelivery(h),
    ...checkNoDuplicate(h),
    ...checkDelivery(h),
    ...checkOrder(h),
    ...checkReceipts(h, ackedIds),
    ...checkPresence(h),
    ...checkHistory(h),
  ];
}
