/**
 * A minimal Confab wire client for the stress script: requests matched to replies by `i`,
 * events to a callback, and frames too big to parse cheaply (history pages of many MB)
 * measured without parsing, so that the client's own event loop stays responsive.
 * @module
 */
import WebSocket from "ws";

/** Replies larger than this are not parsed: only their size, `i` and item count are read. */
const PARSE_LIMIT = 64 * 1024;

/** An open WebSocket connection to a Confab server. */
export class Client {
  /**
   * Connects to `url`.
   * @param {string} url the WebSocket URL.
   * @param {{ timeoutMs?: number }} [options]
   * @returns {Promise<Client>}
   */
  static open(url, options = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 512 * 1024 * 1024, perMessageDeflate: false });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`connect to ${url} timed out`));
      }, options.timeoutMs ?? 10_000);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve(new Client(ws));
      });
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** @param {WebSocket} ws an open socket. */
  constructor(ws) {
    this.ws = ws;
    /** @type {Map<number, { resolve: (r: Reply) => void, timer: NodeJS.Timeout }>} */
    this.pending = new Map();
    this.nextSerial = 1;
    /** @type {(frame: Record<string, unknown>) => void} events and keepalive replies */
    this.onEvent = () => {};
    /** @type {{ code: number, reason: string } | undefined} */
    this.closed = undefined;
    ws.on("message", (data) => this.#onMessage(/** @type {Buffer} */ (data)));
    ws.on("error", () => {});
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.resolve({ closed: this.closed });
      }
      this.pending.clear();
    });
  }

  /**
   * Sends a command with a fresh `i` and resolves with its reply, the close, or a timeout.
   * @param {Record<string, unknown>} frame
   * @param {number} [timeoutMs]
   * @returns {Promise<Reply>}
   */
  request(frame, timeoutMs = 60_000) {
    if (this.closed) return Promise.resolve({ closed: this.closed });
    const i = this.nextSerial++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(i);
        resolve({ timeout: true });
      }, timeoutMs);
      this.pending.set(i, { resolve, timer });
      this.send({ ...frame, i });
    });
  }

  /** Sends a frame as JSON, if the socket is open. @param {unknown} frame */
  send(frame) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** Closes the socket without waiting. */
  close() {
    this.ws.terminate();
  }

  /** @param {Buffer} data */
  #onMessage(data) {
    if (data.length > PARSE_LIMIT) {
      // Only a reply can be this big (a history page); `i` comes last in it.
      const tail = data.subarray(Math.max(0, data.length - 200)).toString("utf8");
      const m = [...tail.matchAll(/"i":(\d+)[,}]/g)].at(-1);
      const head = data.subarray(0, 200).toString("utf8");
      const cmd = /"cmd":"([a-z]+)"/.exec(head)?.[1];
      this.#settle(m ? Number(m[1]) : undefined, {
        big: { bytes: data.length, cmd, items: countItems(data) },
        bytes: data.length,
      });
      return;
    }
    let frame;
    try {
      frame = JSON.parse(data.toString("utf8"));
    } catch {
      return;
    }
    if (typeof frame?.i === "number" && this.pending.has(frame.i)) {
      this.#settle(frame.i, { frame, bytes: data.length });
    } else {
      this.onEvent(frame);
    }
  }

  /** @param {number | undefined} i @param {Reply} reply */
  #settle(i, reply) {
    const p = i === undefined ? undefined : this.pending.get(i);
    if (!p || i === undefined) return;
    this.pending.delete(i);
    clearTimeout(p.timer);
    p.resolve(reply);
  }
}

/** History items in a raw `logs/result`: one `"msg-id"` member each. @param {Buffer} data */
function countItems(data) {
  const needle = Buffer.from('"msg-id"');
  let n = 0;
  for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + needle.length)) n++;
  return n;
}

/**
 * @typedef {{
 *   frame?: Record<string, any>,
 *   big?: { bytes: number, cmd: string | undefined, items: number },
 *   bytes?: number,
 *   closed?: { code: number, reason: string },
 *   timeout?: boolean,
 * }} Reply
 * One of: a parsed reply (`frame`), a reply too big to parse (`big`), the close of the
 * connection before the reply, or a timeout.
 */

/**
 * What a reply amounts to: `"ok"`, an error code, `"closed <code>"` or `"timeout"`.
 * @param {Reply} r
 * @returns {string}
 */
export function outcome(r) {
  if (r.timeout) return "timeout";
  if (r.closed) return `closed ${r.closed.code}`;
  if (r.frame?.cmd === "error") return String(r.frame.code);
  return "ok";
}
