/**
 * The context a command handler runs in: the frame's connection, app, session and time,
 * and the ways to answer. Handlers never see sockets; they only append outputs.
 * @module
 */

import { type C2SMessages, ERRORS, type ErrorSpec, type S2CBody } from "@confab/protocol";
import type { Store } from "../store/store.js";
import type { AppConfig, EngineConfig } from "./config.js";
import { CommandError } from "./errors.js";
import type { MessageIds } from "./message-ids.js";
import type { Presence } from "./presence.js";
import type { AppState, ConnectionState, Session } from "./state.js";
import type { Output } from "./types.js";

/** The commands a handler can take: every client message but the keepalive. */
export type Commands = Omit<C2SMessages, "keepalive">;

/** A handler for the command named `K`, given the frame its schema has checked. */
export type Handler<K extends keyof Commands> = (ctx: CommandContext, frame: Commands[K]) => void;

/**
 * Handlers by registry name. A command family's module exports its own part of the table
 * (`satisfies Handlers` refuses a name the registry does not know); the engine joins them,
 * and its `HandlerTable` makes a missing one a compile error.
 */
export type Handlers = { readonly [K in keyof Commands]?: Handler<K> };

/** Services a handler may use, provided by the engine. */
export interface EngineServices {
  /** Where messages, offline stores, groups and nonces live. */
  readonly store: Store;
  /** Apps, limits and timeouts. */
  readonly config: EngineConfig;
  /** Appends an output (frames for a connection that is closing are dropped). */
  emit(output: Output): void;
  /** Message ids (monotonic, with non-decreasing timestamps) and group ids. */
  readonly ids: MessageIds;
  /** Opens and ends sessions, publishing presence [PRESENCE-ON-2, PRESENCE-OFF-1]. */
  readonly presence: Presence;
  /** Records a log event. */
  record(event: string, fields: Record<string, unknown>): void;
}

/** Everything about one command being handled. */
export class CommandContext {
  #replied = false;
  /**
   * The nonces of the signatures this command verified. They stay used even when the
   * command fails and its writes are rolled back [SIG-NONCE-2].
   */
  readonly usedNonces: { appId: string; nonce: string; expiresAt: number }[] = [];

  /**
   * @param services what the engine provides.
   * @param conn the connection the command arrived on.
   * @param appConfig the app the connection is bound to.
   * @param app the in-memory state of that app.
   * @param peerId the command's `peerId` (already validated).
   * @param serial the command's valid `i`, if it carried one.
   * @param now the server clock, ms.
   */
  constructor(
    readonly services: EngineServices,
    readonly conn: ConnectionState,
    readonly appConfig: AppConfig,
    readonly app: AppState,
    readonly peerId: string,
    /** The serial `i`, if the command carried one (decision D1). */
    readonly serial: number | undefined,
    readonly now: number,
  ) {}

  /**
   * Whether the command's reply went out already. A command has exactly one reply
   * [SERIAL-REPLY-1, SERIAL-LEGACY-1], so a failure after it cannot send an error frame.
   */
  get replied(): boolean {
    return this.#replied;
  }

  /** The store. */
  get store(): Store {
    return this.services.store;
  }

  /** The session of `peerId` on this connection, if open. */
  get session(): Session | undefined {
    return this.conn.sessions.get(this.peerId);
  }

  /** The session, or a 4105 error [SESSION-REQUIRED-1]. */
  requireSession(): Session {
    const s = this.session;
    if (!s)
      throw new CommandError(
        ERRORS.SESSION_REQUIRED,
        `no open session for ${this.peerId} on this connection`,
      );
    return s;
  }

  /**
   * Sends the reply to this command, for the command's peer [FRAME-PEERID-1], echoing `i`
   * when the command had one; no other frame carries `i` [SERIAL-REPLY-1, SERIAL-ECHO-1].
   */
  reply(frame: S2CBody): void {
    const out: Record<string, unknown> = addressed(frame, this.peerId);
    if (this.serial !== undefined) out.i = this.serial;
    this.#replied = true;
    this.services.emit({ type: "send", conn: this.conn.id, frame: out });
  }

  /**
   * Sends an event frame to one session, with its peer id [FRAME-PEERID-1] and no `i`.
   *
   * @param opening the frame's text up to where `peerId` goes (see {@link sendToPeers}),
   *   when the caller serialised it already.
   */
  sendTo(session: Session, frame: S2CBody, opening?: string): void {
    const out = addressed(frame, session.peerId);
    if (opening === undefined) {
      this.services.emit({ type: "send", conn: session.conn, frame: out });
    } else {
      const text = `${opening}"peerId":${JSON.stringify(session.peerId)}}`;
      this.services.emit({ type: "send", conn: session.conn, frame: out, text });
    }
  }

  /**
   * Sends one event frame to every open session of each of `peerIds`, each with its own peer
   * id [FRAME-PEERID-1]. The body is serialised once: each session's text is that body with
   * its `peerId` appended, the same text as `JSON.stringify({ ...frame, peerId })` (a group
   * message to 500 members serialised its body 500 times, issue 11).
   */
  sendToPeers(peerIds: readonly string[], frame: S2CBody): void {
    // A body with a peerId of its own keeps that key's place in the spread: no shortcut.
    let opening: string | undefined;
    if (!Object.hasOwn(frame, "peerId")) {
      const open = JSON.stringify(frame).slice(0, -1);
      opening = open === "{" ? open : `${open},`;
    }
    for (const p of peerIds) {
      for (const s of this.app.sessionsOf(p)) this.sendTo(s, frame, opening);
    }
  }

  /** Sends an event frame to every open session of a peer, except `except`. */
  sendToPeer(peerId: string, frame: S2CBody, except?: Session): void {
    for (const s of this.app.sessionsOf(peerId)) if (s !== except) this.sendTo(s, frame);
  }

  /**
   * Runs store work of a command. A failure of the store (not of the protocol) fails the
   * command with 4200 (ERROR-INTERNAL-1) as an `error` frame carrying the command's `i`
   * and `peerId` (ERROR-FRAME-2, ERROR-FRAME-3); the engine's Store.atomically then undoes
   * whatever the command wrote (ERROR-NOEFFECT-1).
   *
   * @param what what the work does, for the log and the error's detail ("store the message").
   * @returns what `work` returns.
   */
  storeWork<T>(what: string, work: () => T): T {
    try {
      return work();
    } catch (err) {
      if (err instanceof CommandError) throw err;
      this.services.record("store-failed", {
        conn: this.conn.id,
        peerId: this.peerId,
        what,
        error: String(err instanceof Error ? err.message : err),
      });
      return this.fail(ERRORS.INTERNAL_ERROR, `the server could not ${what}`);
    }
  }

  /** Fails the command: the engine answers with an `error` frame [ERROR-NOEFFECT-1]. */
  fail(spec: ErrorSpec, detail: string): never {
    throw new CommandError(spec, detail);
  }
}

/**
 * `{ ...frame, peerId }`: the same keys in the same order (a `peerId` of the frame's own
 * keeps its place). Built by `Object.assign`: under Node 20 the spread of the many frame
 * shapes the core sends measured about 1 µs a frame and `Object.assign` a tenth of that, for
 * a group message one frame per member (issue 11). The two differ for an own `__proto__`
 * key, which `Object.assign` would set as the prototype instead of copying: such a frame
 * takes the spread [FRAME-PEERID-1].
 */
function addressed(frame: S2CBody, peerId: string): S2CBody & { peerId: string } {
  if (Object.hasOwn(frame, "__proto__")) return { ...frame, peerId };
  const out = Object.assign({}, frame) as S2CBody & { peerId: string };
  out.peerId = peerId;
  return out;
}
