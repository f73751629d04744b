/**
 * The context a command handler runs in: the frame's connection, app, session and time,
 * and the ways to answer. Handlers never see sockets; they only append outputs.
 * @module
 */

import { ERRORS, type ErrorSpec } from "@confab/protocol";
import type { Store } from "../store/store.js";
import type { AppConfig, EngineConfig } from "./config.js";
import { CommandError } from "./errors.js";
import type { AppState, Connection, Session } from "./state.js";
import type { Output } from "./types.js";

/** Services a handler may use, provided by the engine. */
export interface EngineServices {
  /** Where messages, offline stores, groups and nonces live. */
  readonly store: Store;
  /** Apps, limits and timeouts. */
  readonly config: EngineConfig;
  /** Appends an output (frames for a connection that is closing are dropped). */
  emit(output: Output): void;
  /** A fresh, monotonically increasing message id and a non-decreasing timestamp. */
  nextMessage(now: number): { id: string; timestamp: number };
  /** A fresh room id. */
  nextRoomId(): string;
  /** Opens a session; publishes presence `on` if it is the peer's first [PRESENCE-ON-1]. */
  openSession(conn: Connection, app: AppState, peerId: string): Session;
  /** Ends a session; publishes presence `off` if it was the peer's last [PRESENCE-OFF-1]. */
  endSession(conn: Connection, app: AppState, session: Session, now: number): void;
  /** Records a log event. */
  log(event: string, fields: Record<string, unknown>): void;
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
    readonly conn: Connection,
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
  reply(frame: Record<string, unknown>): void {
    const out: Record<string, unknown> = { ...frame, peerId: this.peerId };
    if (this.serial !== undefined) out.i = this.serial;
    this.#replied = true;
    this.services.emit({ type: "send", conn: this.conn.id, frame: out });
  }

  /** Sends an event frame to one session, with its peer id [FRAME-PEERID-1] and no `i`. */
  sendTo(session: Session, frame: Record<string, unknown>): void {
    this.services.emit({
      type: "send",
      conn: session.conn,
      frame: { ...frame, peerId: session.peerId },
    });
  }

  /** Sends an event frame to every open session of a peer, except `except`. */
  sendToPeer(peerId: string, frame: Record<string, unknown>, except?: Session): void {
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
      this.services.log("store-failed", {
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
