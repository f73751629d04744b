/**
 * The Confab demo chat: one page, one peer per tab, built on the client SDK's browser
 * bundle (`/demo/dist/confab-client.js`, see build.mjs). Plain JavaScript and the DOM, no
 * framework, so that it reads as an example of the SDK: every call to the client is in
 * this file, near the control that makes it.
 *
 * - The connection: a peer id (random, kept per tab), the connection state live from the
 *   client's `state` events, and the reconnect countdown from its `schedule` events.
 * - Peers: the watch list with a presence dot each (`presence`, `online`, `offline`,
 *   `getStatus`). Tabs of one browser announce their peer ids to each other
 *   (BroadcastChannel), so a second tab appears without typing.
 * - A conversation with one peer: history first (`queryLogs`), then live messages; each
 *   message sent shows … (sent), ✓ (acked: stored by the server), ✓✓ (delivered: receipt).
 *   Messages are keyed by id, so one that comes again (history and live, or redelivered
 *   after a reconnect) is shown once.
 * - Groups: create (`joinGroup()`), join by id, invite, kick, leave, members joined and
 *   left, group messages and their history.
 *
 * URL parameters, for links and tests: `?peer=ID&watch=a,b&app=ID&discover=0&connect=0`.
 *
 * In the browser console, `confabDemo.client` is the live client.
 */
import * as Confab from "/demo/dist/confab-client.js";

const { createClient } = Confab;

// ---------------------------------------------------------------------------------------
// Small helpers

const $ = (id) => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`demo: no #${id} in the page`);
  return el;
};

/** An element with attributes and children; text children are text nodes (never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) el.append(c);
  return el;
}

const NAMES = ["ada", "alan", "grace", "linus", "barbara", "ken", "edsger", "margaret", "dennis"];
/** A random peer id like `ada-3f2`. */
function randomPeerId() {
  const name = NAMES[Math.floor(Math.random() * NAMES.length)];
  const tail = Math.floor(Math.random() * 0x1000)
    .toString(16)
    .padStart(3, "0");
  return `${name}-${tail}`;
}

const clock = (t) =>
  new Date(t ?? Date.now()).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });

/** A short, human reason for an error of the SDK (a protocol error's message has its code). */
function describeError(err) {
  if (err === null || typeof err !== "object") return String(err);
  return `${err.name ?? "Error"}: ${err.message ?? ""}`;
}

/** A peer id as the protocol takes it: trimmed, non-empty. */
const cleanId = (s) => String(s ?? "").trim();
const splitIds = (s) =>
  String(s ?? "")
    .split(/[\s,]+/)
    .map(cleanId)
    .filter((x) => x !== "");

// ---------------------------------------------------------------------------------------
// Page state

const params = new URLSearchParams(location.search);
const stored = (key) => {
  try {
    return sessionStorage.getItem(`confab-demo:${key}`);
  } catch {
    return null;
  }
};
const store = (key, value) => {
  try {
    sessionStorage.setItem(`confab-demo:${key}`, value);
  } catch {
    // Private mode: nothing kept across reloads.
  }
};

const ui = {
  peerId: $("peer-id"),
  appId: $("app-id"),
  connect: $("connect"),
  state: $("state"),
  stateText: $("state-text"),
  watchForm: $("watch-form"),
  watchInput: $("watch-input"),
  peers: $("peers"),
  convTitle: $("conv-title"),
  convHint: $("conv-hint"),
  messages: $("messages"),
  sendForm: $("send-form"),
  message: $("message"),
  receipt: $("receipt"),
  createGroup: $("create-group"),
  joinForm: $("join-form"),
  joinId: $("join-id"),
  groupList: $("group-list"),
  groupTemplate: $("group-template"),
  log: $("log"),
};

/** The client, once created; a new one for each Connect. */
let client;
/** Unsubscribers of the current client's listeners. */
const unsubscribe = [];
/** The peer id of the open (or opening) client. */
let me = cleanId(params.get("peer")) || stored("peer") || randomPeerId();
/** Watched peers: id → { status: "on" | "off" | "unknown", unread, row }. */
const peers = new Map();
/** Conversations: key (`peer:ID` or `room:ID`) → { messages: Map(key → record), list, loaded }. */
const conversations = new Map();
/** The peer whose conversation is shown. */
let activePeer;
/** Groups: roomId → { card, members: Set, left }. */
const groups = new Map();
/** Receipts for ids not known yet (the receipt raced the ack). */
const earlyReceipts = new Map();
/** The reconnect countdown: when the next attempt is due, and its number. */
let retry;
let retryTimer;
/** Why the client closed, shown with the state. */
let closedReason;
/** `appId/peerId` of the conversations on screen: another identity starts afresh. */
let identity;

ui.peerId.value = me;
ui.appId.value = cleanId(params.get("app")) || stored("app") || "demo";

// ---------------------------------------------------------------------------------------
// The connection log (footer): every state change and network event, newest last.

function log(text, kind = "info") {
  const item = h(
    "li",
    { class: kind === "error" ? "error-text" : undefined, "data-kind": kind },
    h("time", { text: clock() }),
    " ",
    h("span", { class: "text", text }),
  );
  ui.log.append(item);
  while (ui.log.childElementCount > 200) ui.log.firstElementChild?.remove();
  ui.log.scrollTop = ui.log.scrollHeight;
}

// ---------------------------------------------------------------------------------------
// Connection state

function showState(state) {
  ui.state.dataset.state = state;
  const connected = state === "open";
  const active = state === "connecting" || state === "open" || state === "reconnecting";
  ui.connect.textContent = active ? "Disconnect" : "Connect";
  ui.connect.dataset.action = active ? "disconnect" : "connect";
  ui.peerId.disabled = active;
  ui.appId.disabled = active;
  ui.createGroup.disabled = !connected;
  ui.joinForm.querySelector("button").disabled = !connected;
  for (const g of groups.values()) setGroupEnabled(g, connected && !g.left);
  setComposerEnabled();
  if (state !== "reconnecting") stopCountdown();
  renderStateText();
}

function renderStateText() {
  const state = ui.state.dataset.state;
  let text;
  switch (state) {
    case "idle":
      text = "Not connected";
      break;
    case "connecting":
      text = `Connecting as ${me}…`;
      break;
    case "open":
      text = `Online as ${me}`;
      break;
    case "reconnecting": {
      if (retry?.at !== undefined) {
        const s = Math.max(0, Math.ceil((retry.at - Date.now()) / 1000));
        const n = retry.attempt !== undefined ? ` #${retry.attempt}` : "";
        text = s > 0 ? `Reconnecting: attempt${n} in ${s} s` : `Reconnecting: attempt${n} now…`;
      } else text = "Reconnecting…";
      break;
    }
    case "closed":
      text = closedReason ? `Disconnected: ${closedReason}` : "Disconnected";
      break;
    default:
      text = state;
  }
  ui.stateText.textContent = text;
}

function startCountdown(attempt, delayMs) {
  retry = { attempt, at: Date.now() + Math.max(0, Number(delayMs) || 0) };
  clearInterval(retryTimer);
  retryTimer = setInterval(renderStateText, 250);
  renderStateText();
}

function stopCountdown() {
  retry = undefined;
  clearInterval(retryTimer);
  retryTimer = undefined;
}

function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

/** Creates a client for the peer id in the form, wires its events and opens it. */
async function connect() {
  me = cleanId(ui.peerId.value);
  const appId = cleanId(ui.appId.value);
  if (me === "" || appId === "") return;
  if (identity !== undefined && identity !== `${appId}/${me}`) resetConversations();
  identity = `${appId}/${me}`;
  closedReason = undefined;
  peers.get(me)?.row.remove();
  peers.delete(me);
  store("peer", me);
  store("app", appId);
  // The address names this peer, so that a reload (or a bookmark) comes back as it.
  const query = new URLSearchParams(location.search);
  query.set("peer", me);
  query.set("app", appId);
  history.replaceState(null, "", `?${query}`);
  for (const off of unsubscribe.splice(0)) off();
  try {
    client = createClient({
      url: wsUrl(),
      appId,
      peerId: me,
      watchPeerIds: [...peers.keys()],
      // Own messages sent from another tab with this peer id show here too.
      echo: true,
      // Quick retries: a restarted dev server is back within a second or two.
      reconnect: { initialDelayMs: 500, maxDelayMs: 5000 },
      // Messages written while reconnecting wait (…) and go out once open again.
      offlineQueue: { max: 50 },
    });
  } catch (err) {
    log(`cannot create the client: ${describeError(err)}`, "error");
    closedReason = err?.message ?? String(err);
    showState("closed");
    return;
  }
  window.confabDemo.client = client;
  wire(client);
  showState(client.state ?? "connecting");
  try {
    await client.open();
  } catch (err) {
    log(`open failed: ${describeError(err)}`, "error");
    closedReason = err?.message ?? String(err);
    renderStateText();
  }
}

/** Forgets the conversations and groups of the previous peer id (the watch list stays). */
function resetConversations() {
  conversations.clear();
  for (const g of groups.values()) g.card.remove();
  groups.clear();
  earlyReceipts.clear();
  activePeer = undefined;
  for (const p of peers.values()) {
    p.unread = 0;
    p.button.setAttribute("aria-current", "false");
    updatePeerLabel(p);
  }
  const empty = h("ol", { id: "messages", class: "messages", role: "log" });
  empty.setAttribute("aria-label", "Conversation");
  empty.dataset.testid = "messages";
  ui.messages.replaceWith(empty);
  ui.messages = empty;
  ui.convTitle.textContent = "No conversation";
  ui.convHint.hidden = false;
  setComposerEnabled();
}

async function disconnect() {
  const c = client;
  if (c === undefined) return;
  try {
    await c.close();
  } catch (err) {
    log(`close: ${describeError(err)}`, "error");
  }
}

/** Every event of the client the page shows. */
function wire(c) {
  const on = (event, fn) => {
    const off = c.on(event, (payload) => {
      if (c !== client) return; // an old client's late event
      try {
        fn(payload);
      } catch (err) {
        console.error(err);
      }
    });
    if (typeof off === "function") unsubscribe.push(off);
  };

  on("state", ({ from, to }) => {
    log(`state ${from} → ${to}`, "state");
    showState(to);
    if (to === "open") void onOpen();
    if (to !== "open")
      for (const p of peers.values()) if (p.status === "on") setPresence(p.id, "unknown");
  });

  // The network events of the source documents.
  on("disconnect", (e) =>
    log(`disconnected (close ${e.code}${e.reason ? `: ${e.reason}` : ""})`, "network"),
  );
  on("schedule", ({ attempt, delayMs }) => {
    log(`reconnect attempt ${attempt + 1} in ${Math.round(delayMs)} ms`, "network");
    startCountdown(attempt + 1, delayMs);
  });
  on("retry", ({ attempt }) => {
    log(`reconnect attempt ${attempt + 1}`, "network");
    if (retry) retry.at = Date.now();
    renderStateText();
  });
  on("reconnect", () => log("reconnected: session, watch list and groups restored", "network"));
  on("network:offline", () => log("the browser is offline: reconnecting paused", "network"));
  on("network:online", () => log("the browser is online again: reconnecting now", "network"));
  on("close", (e) => {
    log(`closed (${e.code}${e.reason ? `: ${e.reason}` : ""})`, "state");
    if (e.code !== 1000) closedReason = e.reason || `close code ${e.code}`;
    renderStateText();
  });
  on("error", (err) => log(describeError(err), "error"));

  // Presence of the watched peers.
  on("online", (ids) => {
    for (const id of ids) setPresence(id, "on");
  });
  on("offline", (ids) => {
    for (const id of ids) setPresence(id, "off");
  });
  on("presence", ({ peerId, status }) => setPresence(peerId, status));

  on("message", onMessage);
  // This peer's own messages, sent from another tab open with the same peer id.
  on("echo", onMessage);
  on("receipt", ({ id, t }) => markDelivered(id, t));

  // Membership events about this peer: its joins and leaves from another tab, and what
  // other members did to it.
  on("group:joined", ({ roomId }) => {
    rejoined(roomId, "you joined (in another tab)");
  });
  on("group:invited", ({ roomId, byPeerId }) => {
    rejoined(roomId, `${byPeerId} added you`);
  });
  on("group:left", ({ roomId }) => left(roomId, "you left (in another tab)"));
  on("group:kicked", ({ roomId, byPeerId }) => left(roomId, `${byPeerId} removed you`));
  // About other members.
  on("group:members-joined", ({ roomId, byPeerId, peerIds }) => {
    const g = ensureGroup(roomId);
    for (const id of peerIds) g.members.add(id);
    renderMembers(g);
    const who = peerIds.join(", ");
    const by = byPeerId === me ? "you" : byPeerId;
    systemLine(
      roomKey(roomId),
      peerIds.includes(byPeerId) ? `${who} joined` : `${by} added ${who}`,
    );
  });
  on("group:members-left", ({ roomId, byPeerId, peerIds }) => {
    const g = ensureGroup(roomId);
    for (const id of peerIds) g.members.delete(id);
    renderMembers(g);
    const who = peerIds.join(", ");
    const by = byPeerId === me ? "you" : byPeerId;
    systemLine(
      roomKey(roomId),
      peerIds.includes(byPeerId) ? `${who} left` : `${by} removed ${who}`,
    );
  });
}

/** This peer is a member of `roomId` (again): its card, a line, its members and history. */
function rejoined(roomId, line) {
  const g = ensureGroup(roomId);
  g.left = false;
  g.card.dataset.left = "false";
  setGroupEnabled(g, client?.state === "open");
  systemLine(roomKey(roomId), line);
  void loadGroup(roomId);
}

/** This peer is no longer a member of `roomId`. */
function left(roomId, line) {
  const g = groups.get(roomId);
  if (g === undefined) return;
  g.left = true;
  g.card.dataset.left = "true";
  setGroupEnabled(g, false);
  systemLine(roomKey(roomId), line);
}

/** After each open (the first and every reconnect): presence, history, groups. */
async function onOpen() {
  announce();
  const ids = [...peers.keys()];
  if (ids.length > 0) {
    try {
      const online = new Set(await client.getStatus(ids));
      for (const id of ids) setPresence(id, online.has(id) ? "on" : "off");
    } catch (err) {
      log(`getStatus: ${describeError(err)}`, "error");
    }
  }
  if (activePeer !== undefined) void loadHistory(peerKey(activePeer));
  try {
    const listed = await listGroups();
    for (const roomId of listed) {
      if (!groups.has(roomId)) ensureGroup(roomId);
    }
    for (const roomId of groups.keys()) void loadGroup(roomId);
  } catch (err) {
    log(`listGroups: ${describeError(err)}`, "error");
  }
}

/** The ids of this peer's groups, whatever shape the SDK gives them in. */
async function listGroups() {
  if (typeof client.listGroups !== "function") return [];
  const result = await client.listGroups();
  const ids = [];
  const take = (x) => {
    if (typeof x === "string") ids.push(x);
    else if (Array.isArray(x)) for (const y of x) take(y);
    else if (x && typeof x === "object") take(x.roomIds ?? x.roomId ?? []);
  };
  if (result && typeof result[Symbol.asyncIterator] === "function") {
    for await (const x of result) take(x);
  } else take(result);
  return ids;
}

// ---------------------------------------------------------------------------------------
// Peers and presence

function addPeer(id, { watch = true } = {}) {
  id = cleanId(id);
  if (id === "" || id === me || peers.has(id)) return peers.get(id);
  const dot = h("span", { class: "dot", "aria-hidden": "true" });
  const presence = h("span", { class: "presence", text: "unknown" });
  const badge = h("span", { class: "badge", "aria-label": "unread" });
  const button = h(
    "button",
    {
      type: "button",
      class: "peer",
      "data-peer": id,
      "data-testid": `peer-${id}`,
      "data-status": "unknown",
      onclick: () => openConversation(id),
    },
    dot,
    h("span", { class: "name", text: id }),
    presence,
    badge,
  );
  const row = h("li", {}, button);
  ui.peers.append(row);
  const peer = { id, status: "unknown", unread: 0, row, button, presence, badge };
  peers.set(id, peer);
  updatePeerLabel(peer);
  $("peers-hint").hidden = true;
  if (watch && client?.state === "open") {
    client
      .watch([id])
      .then(() => client.getStatus([id]))
      .then((online) => setPresence(id, online.includes(id) ? "on" : "off"))
      .catch((err) => log(`watch ${id}: ${describeError(err)}`, "error"));
  }
  return peer;
}

function setPresence(id, status) {
  const peer = peers.get(id);
  if (peer === undefined) return;
  const s = status === "on" || status === "off" ? status : "unknown";
  if (peer.status === s) return;
  peer.status = s;
  peer.button.dataset.status = s;
  peer.presence.textContent = s === "on" ? "online" : s === "off" ? "offline" : "unknown";
  updatePeerLabel(peer);
  if (s !== "unknown") log(`${id} is ${s === "on" ? "online" : "offline"}`, "presence");
}

function updatePeerLabel(peer) {
  const presence = peer.status === "on" ? "online" : peer.status === "off" ? "offline" : "";
  const unread = peer.unread > 0 ? `, ${peer.unread} unread` : "";
  peer.button.setAttribute("aria-label", `${peer.id}${presence ? `, ${presence}` : ""}${unread}`);
  peer.badge.textContent = peer.unread > 0 ? String(peer.unread) : "";
}

ui.watchForm.addEventListener("submit", (e) => {
  e.preventDefault();
  for (const id of splitIds(ui.watchInput.value)) addPeer(id);
  ui.watchInput.value = "";
});

// ---------------------------------------------------------------------------------------
// Conversations: messages keyed by id

const peerKey = (id) => `peer:${id}`;
const roomKey = (id) => `room:${id}`;

function conversation(key, list) {
  let conv = conversations.get(key);
  if (conv === undefined) {
    conv = { key, messages: new Map(), list: list ?? h("ol"), loaded: false, loading: undefined };
    conversations.set(key, conv);
  }
  return conv;
}

const MARKS = {
  sent: "…",
  acked: "✓",
  delivered: "✓✓",
  failed: "✗ not sent",
  unknown: "? maybe sent",
};
const MARK_TITLES = {
  sent: "sent, waiting for the server's ack",
  acked: "acked: the server stored it",
  delivered: "delivered: the receipt came",
  failed: "not sent",
  unknown: "the connection dropped before the ack: it may have been delivered",
};

/**
 * Shows a message in its conversation, once per key (its id, or a local key before the
 * ack), in timestamp order.
 */
function showMessage(conv, rec) {
  const existing = conv.messages.get(rec.key);
  if (existing !== undefined) return existing;
  const mark = h("span", { class: "mark" });
  const meta = h("span", { class: "meta" });
  const el = h(
    "li",
    {
      class: "msg",
      "data-testid": "message",
      "data-dir": rec.out ? "out" : "in",
      "data-from": rec.from,
      "data-id": rec.id,
    },
    meta,
    h("span", { class: "text", "data-testid": "message-text", text: rec.text }),
    rec.out ? mark : null,
  );
  meta.textContent = `${rec.out ? "you" : rec.from} · ${clock(rec.t)}${rec.offline ? " · while you were away" : ""}`;
  const record = { ...rec, el, mark };
  conv.messages.set(rec.key, record);
  if (rec.out) setStatus(record, rec.status);
  // In order of time; a local message (no server time yet) goes last.
  const t = rec.t ?? Number.POSITIVE_INFINITY;
  let before = null;
  for (const other of conv.list.children) {
    const ot = Number(other.dataset.t ?? Number.POSITIVE_INFINITY);
    if (ot > t) {
      before = other;
      break;
    }
  }
  el.dataset.t = String(t);
  conv.list.insertBefore(el, before);
  conv.list.scrollTop = conv.list.scrollHeight;
  return record;
}

function setStatus(record, status) {
  record.status = status;
  record.el.dataset.status = status;
  if (record.mark) {
    record.mark.textContent = MARKS[status] ?? "";
    record.mark.title = MARK_TITLES[status] ?? "";
    record.mark.setAttribute("aria-label", MARK_TITLES[status] ?? status);
  }
}

function systemLine(key, text) {
  const conv = conversations.get(key);
  if (conv === undefined) return;
  const el = h("li", { class: "msg system", "data-testid": "system", text });
  el.dataset.t = String(Date.now());
  conv.list.append(el);
  conv.list.scrollTop = conv.list.scrollHeight;
}

function onMessage(m) {
  const from = m.fromPeerId;
  const mine = from === me; // an echo of this peer's own message, from another tab
  if (m.roomId !== undefined && m.roomId !== null) {
    const g = ensureGroup(m.roomId);
    showMessage(conversation(roomKey(m.roomId)), {
      key: m.id,
      id: m.id,
      from,
      text: String(m.msg),
      t: m.timestamp,
      out: mine,
      status: "acked",
      offline: m.offline,
    });
    if (!mine) g.members.add(from);
    return;
  }
  // A direct message: the conversation is with the sender, or with the receiver of an echo.
  const other = mine ? m.toPeerIds?.find((id) => id !== me) : from;
  if (other === undefined) return;
  addPeer(other);
  const conv = conversation(peerKey(other));
  const before = conv.messages.size;
  showMessage(conv, {
    key: m.id,
    id: m.id,
    from,
    text: String(m.msg),
    t: m.timestamp,
    out: mine,
    status: "acked",
    offline: m.offline,
  });
  if (activePeer === undefined) openConversation(other);
  else if (activePeer !== other && conv.messages.size > before) {
    const peer = peers.get(other);
    peer.unread++;
    updatePeerLabel(peer);
  }
}

function markDelivered(id, t) {
  for (const conv of conversations.values()) {
    const record = conv.messages.get(id);
    if (record?.out) {
      setStatus(record, "delivered");
      if (t !== undefined) record.el.title = `delivered at ${clock(t)}`;
      return;
    }
  }
  earlyReceipts.set(id, t);
}

function openConversation(id) {
  const peer = addPeer(id);
  if (peer === undefined) return;
  activePeer = id;
  for (const p of peers.values()) p.button.setAttribute("aria-current", String(p.id === id));
  peer.unread = 0;
  updatePeerLabel(peer);
  ui.convTitle.textContent = `Chat with ${id}`;
  ui.convHint.hidden = true;
  const conv = conversation(peerKey(id));
  // One list element per conversation, swapped in.
  conv.list.id = "messages";
  conv.list.className = "messages";
  conv.list.setAttribute("role", "log");
  conv.list.setAttribute("aria-label", `Conversation with ${id}`);
  conv.list.dataset.testid = "messages";
  conv.list.dataset.peer = id;
  ui.messages.replaceWith(conv.list);
  ui.messages = conv.list;
  setComposerEnabled();
  ui.message.focus();
  void loadHistory(conv.key);
}

function setComposerEnabled() {
  const ok = activePeer !== undefined && ui.state.dataset.state !== "idle";
  ui.message.disabled = !ok;
  ui.sendForm.querySelector("button[type=submit]").disabled = !ok;
}

/** History of a conversation, once per open of the client (queryLogs pages by itself). */
async function loadHistory(key) {
  const conv = conversation(key);
  if (client?.state !== "open" || conv.loadedBy === client) return;
  conv.loadedBy = client;
  const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
  const query = kind === "peer" ? { peerId: id, limit: 50 } : { roomId: id, limit: 50 };
  let n = 0;
  try {
    for await (const item of client.queryLogs(query)) {
      const m = logItem(item);
      if (m.id === undefined) continue;
      const out = m.from === me;
      const rec = showMessage(conv, {
        key: m.id,
        id: m.id,
        from: m.from,
        text: m.text,
        t: m.t,
        out,
        status: "acked",
      });
      if (out && earlyReceipts.has(m.id)) setStatus(rec, "delivered");
      n++;
    }
    if (n > 0) log(`history of ${id}: ${n} message${n === 1 ? "" : "s"}`, "history");
  } catch (err) {
    // 4401 on a conversation that has no message yet: the server knows no participant of it.
    if (err?.code === 4401 && kind === "peer") return;
    conv.loadedBy = undefined;
    log(`history of ${id}: ${describeError(err)}`, "error");
  }
}

/** A history item, in the SDK's shape or the wire's (`msg-id`, `data`, `from`). */
function logItem(item) {
  return {
    id: item.id ?? item.msgId ?? item["msg-id"],
    from: item.fromPeerId ?? item.from,
    text: String(item.msg ?? item.data ?? ""),
    t: item.timestamp ?? item.t,
  };
}

ui.sendForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = ui.message.value;
  const to = activePeer;
  if (text.trim() === "" || to === undefined || client === undefined) return;
  ui.message.value = "";
  const conv = conversation(peerKey(to));
  const localKey = `local:${crypto.randomUUID()}`;
  const record = showMessage(conv, { key: localKey, from: me, text, out: true, status: "sent" });
  try {
    const { id, t } = await client.send(text, to, { receipt: ui.receipt.checked });
    // Keyed by its id from now on: the same message from history or an echo is this one.
    conv.messages.delete(localKey);
    if (conv.messages.has(id)) {
      record.el.remove();
      return;
    }
    conv.messages.set(id, record);
    record.id = id;
    record.el.dataset.id = id;
    if (t !== undefined) {
      record.el.dataset.t = String(t);
      record.el.querySelector(".meta").textContent = `you · ${clock(t)}`;
    }
    setStatus(record, earlyReceipts.has(id) ? "delivered" : "acked");
    earlyReceipts.delete(id);
  } catch (err) {
    // A lost connection or a timeout leaves the outcome unknown: the server may have it.
    const maybe = err?.mayHaveBeenDelivered === true;
    setStatus(record, maybe ? "unknown" : "failed");
    record.mark.title = `${MARK_TITLES[record.status]}: ${describeError(err)}`;
    log(`send to ${to}: ${describeError(err)}`, "error");
  }
});

// ---------------------------------------------------------------------------------------
// Groups

function ensureGroup(roomId) {
  let g = groups.get(roomId);
  if (g !== undefined) return g;
  const card = ui.groupTemplate.content.firstElementChild.cloneNode(true);
  card.dataset.room = roomId;
  card.setAttribute("aria-label", `Group ${roomId}`);
  card.querySelector(".group-id").textContent = roomId;
  const list = card.querySelector(".messages");
  list.setAttribute("aria-label", `Messages in group ${roomId}`);
  const sendForm = card.querySelector(".group-send");
  const sendInput = sendForm.querySelector("input");
  const inviteForm = card.querySelector(".group-invite");
  const inviteInput = inviteForm.querySelector("input");
  g = { roomId, card, members: new Set([me]), left: false, sendForm, inviteForm };
  groups.set(roomId, g);
  conversation(roomKey(roomId), list);

  card.querySelector(".copy").addEventListener("click", async (ev) => {
    try {
      await navigator.clipboard.writeText(roomId);
      ev.target.textContent = "Copied";
    } catch {
      // No clipboard (permissions): the id is selectable.
      const range = document.createRange();
      range.selectNodeContents(card.querySelector(".group-id"));
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
    }
  });
  sendForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = sendInput.value;
    if (text.trim() === "") return;
    sendInput.value = "";
    const conv = conversation(roomKey(roomId));
    const localKey = `local:${crypto.randomUUID()}`;
    const record = showMessage(conv, { key: localKey, from: me, text, out: true, status: "sent" });
    try {
      const { id, t } = await client.sendToGroup(roomId, text);
      conv.messages.delete(localKey);
      if (conv.messages.has(id)) {
        record.el.remove();
        return;
      }
      conv.messages.set(id, record);
      record.id = id;
      record.el.dataset.id = id;
      if (t !== undefined) record.el.dataset.t = String(t);
      setStatus(record, "acked");
    } catch (err) {
      setStatus(record, "failed");
      log(`send to group ${roomId}: ${describeError(err)}`, "error");
    }
  });
  inviteForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ids = splitIds(inviteInput.value);
    if (ids.length === 0) return;
    inviteInput.value = "";
    try {
      await client.inviteToGroup(roomId, ids);
      for (const id of ids) g.members.add(id);
      renderMembers(g);
      systemLine(roomKey(roomId), `you invited ${ids.join(", ")}`);
    } catch (err) {
      log(`invite to ${roomId}: ${describeError(err)}`, "error");
      systemLine(roomKey(roomId), `invite failed: ${describeError(err)}`);
    }
  });
  card.querySelector(".leave").addEventListener("click", async () => {
    try {
      await client.leaveGroup(roomId);
      left(roomId, "you left");
    } catch (err) {
      log(`leave ${roomId}: ${describeError(err)}`, "error");
    }
  });
  ui.groupList.prepend(card);
  renderMembers(g);
  setGroupEnabled(g, client?.state === "open");
  return g;
}

function setGroupEnabled(g, enabled) {
  for (const el of g.card.querySelectorAll("input, button:not(.copy)")) el.disabled = !enabled;
}

function renderMembers(g) {
  const box = g.card.querySelector(".members");
  box.replaceChildren();
  for (const id of [...g.members].sort()) {
    const kick =
      id === me
        ? null
        : h("button", {
            type: "button",
            class: "kick",
            title: `remove ${id} from the group`,
            "aria-label": `Remove ${id}`,
            text: "×",
            onclick: async () => {
              try {
                await client.kickFromGroup(g.roomId, [id]);
                g.members.delete(id);
                renderMembers(g);
                systemLine(roomKey(g.roomId), `you removed ${id}`);
              } catch (err) {
                log(`kick ${id}: ${describeError(err)}`, "error");
              }
            },
          });
    if (kick && (g.left || client?.state !== "open")) kick.disabled = true;
    box.append(
      h("span", { class: "member", "data-peer": id }, id === me ? `${id} (you)` : id, kick),
    );
  }
  g.card.dataset.members = [...g.members].sort().join(",");
}

/** A group's members and history, after joining it or after a reconnect. */
async function loadGroup(roomId) {
  const g = groups.get(roomId);
  if (g === undefined || g.left || client?.state !== "open") return;
  if (typeof client.queryGroupMembers === "function") {
    try {
      const result = await client.queryGroupMembers(roomId);
      const ids = Array.isArray(result) ? result : (result?.peerIds ?? result?.roomPeerIds ?? []);
      g.members = new Set(ids);
      g.members.add(me);
      renderMembers(g);
    } catch (err) {
      log(`members of ${roomId}: ${describeError(err)}`, "error");
    }
  }
  await loadHistory(roomKey(roomId));
}

ui.createGroup.addEventListener("click", async () => {
  ui.createGroup.disabled = true;
  try {
    const { roomId } = await client.joinGroup();
    const g = ensureGroup(roomId);
    systemLine(roomKey(roomId), "you created the group: share its id so that others join");
    g.card.querySelector("input")?.focus();
    log(`created group ${roomId}`, "group");
  } catch (err) {
    log(`create group: ${describeError(err)}`, "error");
  } finally {
    ui.createGroup.disabled = client?.state !== "open";
  }
});

ui.joinForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const roomId = cleanId(ui.joinId.value);
  if (roomId === "") return;
  try {
    await client.joinGroup(roomId);
    ui.joinId.value = "";
    const g = ensureGroup(roomId);
    g.left = false;
    g.card.dataset.left = "false";
    setGroupEnabled(g, true);
    systemLine(roomKey(roomId), "you joined");
    log(`joined group ${roomId}`, "group");
    await loadGroup(roomId);
  } catch (err) {
    log(`join ${roomId}: ${describeError(err)}`, "error");
  }
});

// ---------------------------------------------------------------------------------------
// Tabs of this browser find each other: each announces its peer id when it is online.

const channel =
  params.get("discover") !== "0" && typeof BroadcastChannel === "function"
    ? new BroadcastChannel("confab-demo")
    : undefined;

function announce() {
  channel?.postMessage({ hello: me, app: cleanId(ui.appId.value) });
}

channel?.addEventListener("message", (e) => {
  const data = e.data ?? {};
  if (data.app !== cleanId(ui.appId.value)) return;
  const id = data.hello ?? data.here;
  if (typeof id !== "string" || id === me) return;
  addPeer(id);
  if (data.hello !== undefined && client?.state === "open") {
    channel.postMessage({ here: me, app: cleanId(ui.appId.value) });
  }
});

// ---------------------------------------------------------------------------------------
// Start

ui.connect.closest("form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (ui.connect.dataset.action === "disconnect") void disconnect();
  else void connect();
});

window.confabDemo = { client: undefined, sdk: Confab };
document.getElementById("boot-hint")?.remove();

for (const id of splitIds(params.get("watch") ?? stored("watch") ?? "")) {
  addPeer(id, { watch: false });
}
addEventListener("pagehide", () => store("watch", [...peers.keys()].join(",")));
showState("idle");
if (params.get("connect") !== "0") void connect();
