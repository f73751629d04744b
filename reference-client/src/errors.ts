/**
 * The client's errors, in two families (as the MCP SDK separates them): a
 * {@link ProtocolError} is a refusal that came over the wire from the server, with the code,
 * name and requirement IDs of the protocol package's error registry; every other class is a
 * local error of the SDK that never crossed the wire. All extend {@link ConfabError}.
 *
 * Errors that concern a command which may already have reached the server say so in
 * `mayHaveBeenDelivered`: an unknown outcome is not a failure [TIMEOUT-CLIENT-1].
 * @module
 */
import { CODE_NAMES, ERRORS } from "@confab/protocol";

/**
 * Base class of every error the client throws, rejects with or emits.
 *
 * @example
 * try {
 *   await client.send("hi", "bob");
 * } catch (err) {
 *   if (err instanceof ConfabError) console.log(err.name, err.message);
 * }
 */
export class ConfabError extends Error {
  override name = "ConfabError";
}

/** The fields of an `error` frame that a {@link ProtocolError} keeps. */
export interface ProtocolErrorInit {
  /** The wire code, from Table 7 of spec 08 or one the client does not know; `null` when the refusal was not an `error` frame (a `room/reject`). */
  readonly code: number | null;
  /** The `reason` the server sent, or the registry's name of the code. */
  readonly reason: string;
  /** The server's human-readable `detail`, if any. */
  readonly detail?: string | undefined;
  /** The app-defined `appCode`, if any. */
  readonly appCode?: number | undefined;
  /** The command that failed, as `cmd/op` (`session/open`, `direct`), when known. */
  readonly command?: string | undefined;
}

/**
 * The server refused a command, or reported a failure not tied to a command, with an
 * `error` frame (or a `room/reject`). `code` is the wire code; `reason` and
 * `requirements` come from the protocol package's error registry (`ERRORS`), so a code
 * means the same in every package. A code the registry does not know is a failure all the
 * same, with no requirements listed [ERROR-CLIENT-1].
 *
 * @example
 * try {
 *   await client.joinGroup("no-such-group");
 * } catch (err) {
 *   if (err instanceof ProtocolError && err.code === 4404) console.log("unknown group");
 * }
 */
export class ProtocolError extends ConfabError {
  override name = "ProtocolError";
  /** The wire code (`4404`), or `null` for a refusal that was not an `error` frame. */
  readonly code: number | null;
  /**
   * The name Table 7 gives the code (`ROOM_NOT_FOUND`), as the protocol package's registry
   * spells it; for a code it does not know, the `reason` the server sent.
   */
  readonly reason: string;
  /** The requirement IDs that send this code, from the protocol package's `ERRORS` registry. */
  readonly requirements: readonly string[];
  /** The server's `detail`, text for humans (never parsed). */
  readonly detail: string | undefined;
  /** The app-defined `appCode`, if the frame carried one. */
  readonly appCode: number | undefined;
  /** The command that failed, as `cmd/op`, when the error answered one. */
  readonly command: string | undefined;

  /** @param init - the fields of the `error` frame */
  constructor(init: ProtocolErrorInit) {
    const known = init.code === null ? undefined : CODE_NAMES.get(init.code);
    const reason = known ?? init.reason;
    super(
      `${init.command ? `${init.command} failed: ` : ""}${init.code ?? ""} ${reason}${init.detail ? ` (${init.detail})` : ""}`.trim(),
    );
    this.code = init.code;
    this.reason = reason;
    this.requirements =
      init.code === null
        ? []
        : [
            ...new Set(
              Object.values(ERRORS)
                .filter((e) => e.code === init.code)
                .flatMap((e) => e.requirements),
            ),
          ];
    this.detail = init.detail;
    this.appCode = init.appCode;
    this.command = init.command;
  }
}

/**
 * A command got no reply within `commandTimeoutMs` (10 s by default). Its outcome is
 * unknown, not failed: a `send` may have been stored and delivered, and sending it again
 * makes a second message with a new id [TIMEOUT-CLIENT-1].
 *
 * @example
 * try {
 *   await client.send("hi", "bob");
 * } catch (err) {
 *   if (err instanceof TimeoutError) console.log("may have been delivered:", err.mayHaveBeenDelivered);
 * }
 */
export class TimeoutError extends ConfabError {
  override name = "TimeoutError";
  /**
   * `true` for a command that was written (the server may have carried it out); `false`
   * when what timed out was the app's own `auth` or `groupAuth` hook, before anything was sent.
   */
  readonly mayHaveBeenDelivered: boolean;
  /** The command that timed out, as `cmd/op`, or the hook (`auth`, `groupAuth`). */
  readonly command: string;
  /** How long the client waited, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * @param command - the command, as `cmd/op`, or the hook
   * @param timeoutMs - how long the client waited
   * @param written - whether the command had been written (default true)
   */
  constructor(command: string, timeoutMs: number, written = true) {
    super(
      written
        ? `${command}: no reply within ${timeoutMs} ms; its outcome is unknown`
        : `${command}: no answer within ${timeoutMs} ms; nothing was sent`,
    );
    this.command = command;
    this.timeoutMs = timeoutMs;
    this.mayHaveBeenDelivered = written;
  }
}

/**
 * The connection was lost, or the client closed, before a command got its reply, or a
 * command was made while the client was not connected (and not queued).
 * `mayHaveBeenDelivered` is `true` when the frame had been written to the socket: the
 * server may have carried it out, so the outcome is unknown rather than failed
 * [TIMEOUT-CLIENT-1]; `false` when it never left the client.
 *
 * @example
 * try {
 *   await client.send("hi", "bob");
 * } catch (err) {
 *   if (err instanceof ConnectionClosedError && !err.mayHaveBeenDelivered) {
 *     // Safe to send again: the server never saw it.
 *   }
 * }
 */
export class ConnectionClosedError extends ConfabError {
  override name = "ConnectionClosedError";
  /** Whether the frame was written before the connection ended (outcome unknown). */
  readonly mayHaveBeenDelivered: boolean;
  /** The command concerned, as `cmd/op`, when there was one. */
  readonly command: string | undefined;
  /** The close code of the connection, when it closed with one. */
  readonly closeCode: number | undefined;

  /**
   * @param message - what happened
   * @param init - whether the frame was written, the command and the close code
   */
  constructor(
    message: string,
    init: { mayHaveBeenDelivered: boolean; command?: string; closeCode?: number },
  ) {
    super(message);
    this.mayHaveBeenDelivered = init.mayHaveBeenDelivered;
    this.command = init.command;
    this.closeCode = init.closeCode;
  }
}

/**
 * A send made while disconnected found the bounded offline queue (`offlineQueue.max`) full.
 * The message never left the client (`mayHaveBeenDelivered` is `false`).
 *
 * @example
 * client.send("hi", "bob").catch((err) => {
 *   if (err instanceof QueueFullError) console.log("offline queue full, try later");
 * });
 */
export class QueueFullError extends ConnectionClosedError {
  override name = "QueueFullError";
  /** The bound of the queue that was full. */
  readonly max: number;

  /**
   * @param command - the command, as `cmd/op`
   * @param max - the queue's bound
   */
  constructor(command: string, max: number) {
    super(`${command}: not connected and the offline queue is full (${max})`, {
      mayHaveBeenDelivered: false,
      command,
    });
    this.max = max;
  }
}

/**
 * An argument the protocol forbids, caught before anything is sent (no server round trip):
 * an invalid peer id, group id or nonce [LIMIT-ID-3], a `msg` over 5120 bytes of UTF-8
 * [LIMIT-MSG-3], an id array over 500 items [LIMIT-ARRAY-2], a frame over 65536 bytes
 * [FRAME-SIZE-3], or an option out of range.
 *
 * @example
 * await client.send("hi", "a:b").catch((err) => err instanceof InvalidArgumentError); // true
 */
export class InvalidArgumentError extends ConfabError {
  override name = "InvalidArgumentError";
  /** The argument or option at fault (`to`, `msg`, `options.peerId`). */
  readonly argument: string;

  /**
   * @param argument - the argument at fault
   * @param message - what is wrong with it
   */
  constructor(argument: string, message: string) {
    super(`${argument}: ${message}`);
    this.argument = argument;
  }
}

/**
 * The server does not announce the feature a method needs in `serverInfo.features`
 * (`room-query`, `room-list`, `history`), so the client does not send the command.
 *
 * @example
 * await client.listGroups().catch((err) => err instanceof NotSupportedError && err.feature); // "room-list"
 */
export class NotSupportedError extends ConfabError {
  override name = "NotSupportedError";
  /** The feature of Table 10 (spec 02) that the server does not announce. */
  readonly feature: string;

  /**
   * @param feature - the feature name
   * @param method - the client method that needs it
   */
  constructor(feature: string, method: string) {
    super(`${method}: the server does not announce the feature "${feature}"`);
    this.feature = feature;
  }
}

/**
 * The server sent a frame that breaks the spec where the client needed a well-formed one:
 * a reply to a command that fails its schema, or the wrong reply for the command. The
 * command's outcome is unknown (`mayHaveBeenDelivered` is `true`).
 *
 * @example
 * client.on("error", (err) => {
 *   if (err instanceof InvalidFrameError) console.log("server sent", err.frame);
 * });
 */
export class InvalidFrameError extends ConfabError {
  override name = "InvalidFrameError";
  /** Always `true`: the command reached the server, whose answer is unusable. */
  readonly mayHaveBeenDelivered = true;
  /** The frame as received. */
  readonly frame: unknown;

  /**
   * @param message - what is wrong with it
   * @param frame - the frame as received
   */
  constructor(message: string, frame: unknown) {
    super(message);
    this.frame = frame;
  }
}
