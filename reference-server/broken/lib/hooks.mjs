/**
 * The patch points the broken servers share. Every broken server is the compiled reference
 * server (`../dist`) with one behaviour changed at run time, so that the conformance kit's
 * self-test can show that the kit notices exactly that change. Nothing here touches
 * `reference-server/src`: the reference stays free of test switches, and these patches
 * replace methods on the prototypes of the classes it exports, which the engine looks up
 * at call time (the handler tables are copied at load, so they cannot be patched).
 *
 * The hooks:
 * - {@link wrap}: replaces one method of a prototype by a wrapper of the original;
 * - {@link wrapStores}: the same for both stores (`MemoryStore` for `--db :memory:`,
 *   `SqliteStore` for a file), so that a break holds whatever storage the server uses;
 * - {@link onCommand} and {@link currentCommand}: runs code before and after the engine
 *   handles one command, and tells the other patches which command is being handled;
 * - {@link filterOutputs}: rewrites the frames and closes the engine hands to the adapter,
 *   an in-process stand-in for a frame-altering proxy on the wire;
 * - {@link passFailure}: lets a check of a command pass although it failed, by keeping
 *   `CommandContext.fail` from throwing for the failures a break picks.
 * @module
 */
import { CommandContext } from "../../dist/src/core/context.js";
import { Engine } from "../../dist/src/core/engine.js";
import { MessageIds } from "../../dist/src/core/message-ids.js";
import { MemoryStore } from "../../dist/src/store/memory-store.js";
import { SqliteStore } from "../../dist/src/store/sqlite-store.js";

/**
 * Replaces `proto[name]` with `wrapper(original)`. Throws when the method is gone, so that
 * a refactoring of the reference server that moves a patch point fails loudly instead of
 * leaving a broken server that is not broken.
 *
 * @param {object} proto a prototype (or any object) holding the method.
 * @param {string} name the method's name.
 * @param {(original: Function) => Function} wrapper builds the replacement.
 */
export function wrap(proto, name, wrapper) {
  const original = proto[name];
  if (typeof original !== "function") {
    const owner = proto.constructor?.name ?? "object";
    throw new Error(`broken server: ${owner}.${name} is not a method of the reference any more`);
  }
  proto[name] = wrapper(original);
}

/** The prototypes of both stores of the reference server. */
export const STORE_PROTOTYPES = [MemoryStore.prototype, SqliteStore.prototype];

/**
 * Wraps the same method of both stores.
 *
 * @param {string} name a method of the `Store` interface.
 * @param {(original: Function) => Function} wrapper builds the replacement.
 */
export function wrapStores(name, wrapper) {
  for (const proto of STORE_PROTOTYPES) wrap(proto, name, wrapper);
}

/**
 * @typedef {object} Current
 * @property {Engine} engine the engine handling the command.
 * @property {any} conn the engine's state of the connection the command came on.
 * @property {Record<string, any>} frame the command as parsed (before the engine's checks).
 * @property {{name: string, hasSerial: boolean, serial: number | undefined,
 *   peerId: string | undefined, silent: boolean}} cmd what the engine knows of it.
 * @property {number} now the server clock, ms.
 * @property {Record<string, any>} notes what the patches noted while it ran.
 */

/** @type {Current | undefined} */
let current;
/** @type {{ before?: (c: Current) => boolean | void, after?: (c: Current) => void }[]} */
const commandHooks = [];
let commandsTracked = false;

/** The command the engine is handling now, or `undefined` between commands. */
export function currentCommand() {
  return current;
}

/**
 * Runs `before` ahead of the engine's handling of each command (a frame with `cmd`), and
 * `after` once it is done. `before` may return `false` to skip the engine's handling (the
 * hook then answers the command itself). Both see {@link Current}; `notes` carries what
 * other patches observed during the command (the accepted message id, say).
 *
 * @param {{ before?: (c: Current) => boolean | void, after?: (c: Current) => void }} hooks
 */
export function onCommand(hooks) {
  commandHooks.push(hooks);
  trackCommands();
}

function trackCommands() {
  if (commandsTracked) return;
  commandsTracked = true;
  wrap(
    Engine.prototype,
    "handleCommand",
    (original) =>
      function handleCommand(conn, frame, cmd, now) {
        const outer = current;
        /** @type {Current} */
        const here = { engine: this, conn, frame, cmd, now, notes: {} };
        current = here;
        try {
          for (const h of commandHooks) if (h.before?.(here) === false) return;
          original.call(this, conn, frame, cmd, now);
          for (const h of commandHooks) h.after?.(here);
        } finally {
          current = outer;
        }
      },
  );
  // Every accepted message takes its id here [ACK-ID-1]: a patch that needs the id and
  // acceptance time of the message its command accepted reads `notes.accepted`.
  wrap(
    MessageIds.prototype,
    "next",
    (original) =>
      function next(now) {
        const made = original.call(this, now);
        if (current) current.notes.accepted = made;
        return made;
      },
  );
}

/** @type {((outputs: any[], engine: Engine) => any[])[]} */
const outputFilters = [];

/**
 * Rewrites what the engine returns to the adapter: `filter` gets each batch of outputs
 * (`{type: "send", conn, frame}`, `{type: "close", conn, code, reason}`,
 * `{type: "notify", …}`) and returns the batch to carry out instead. The adapter still
 * commits the store before it sends any of them, so a filter alters the wire only, as a
 * proxy between the kit and a correct server would.
 *
 * @param {(outputs: any[], engine: Engine) => any[]} filter
 */
export function filterOutputs(filter) {
  if (outputFilters.length === 0) {
    // Every method of the engine's ProtocolEngine interface ends with `this.flush()`.
    wrap(
      Engine.prototype,
      "flush",
      (original) =>
        function flush() {
          // The filters rewrite frames: the text the engine serialised beforehand would hide
          // that, so the adapter serialises each frame as it leaves the filters.
          let out = original.call(this).map((o) => {
            if (o.type !== "send" || o.text === undefined) return o;
            const { text: _text, ...rest } = o;
            return rest;
          });
          for (const f of outputFilters) out = f(out, this);
          return out;
        },
    );
  }
  outputFilters.push(filter);
}

/**
 * Maps every frame the engine sends: `map` returns the frame to send (the same object, a
 * copy, or an array of frames to send in its place, possibly empty).
 *
 * @param {(frame: Record<string, any>, output: any) => Record<string, any> | Record<string, any>[]} map
 */
export function mapFrames(map) {
  filterOutputs((outputs) =>
    outputs.flatMap((o) => {
      if (o.type !== "send") return [o];
      const mapped = map(o.frame, o);
      const frames = Array.isArray(mapped) ? mapped : [mapped];
      return frames.map((frame) => ({ ...o, frame }));
    }),
  );
}

/** @type {((ctx: any, spec: {code: number, name: string}, detail: string) => boolean)[]} */
const passes = [];

/**
 * Lets a failed check of a command pass: every handler fails through
 * `CommandContext.fail(spec, detail)`, which throws; when `predicate` returns true for the
 * failure, `fail` returns instead and the handler goes on as if the check had passed.
 * `predicate` may also act (note something, record a nonce) and return false to fail as
 * usual.
 *
 * @param {(ctx: any, spec: {code: number, name: string}, detail: string) => boolean} predicate
 */
export function passFailure(predicate) {
  if (passes.length === 0) {
    wrap(
      CommandContext.prototype,
      "fail",
      (original) =>
        function fail(spec, detail) {
          if (passes.some((p) => p(this, spec, detail))) return undefined;
          return original.call(this, spec, detail);
        },
    );
  }
  passes.push(predicate);
}

/** Whether an output is a frame sent on a connection (not a close or a push notice). */
export const isSend = (o) => o.type === "send";

/**
 * The distinct recipients of a peer `direct` as the reference computes them: `toPeerIds`
 * without duplicates and without the sender [DIRECT-TARGET-2, DIRECT-SELF-1].
 *
 * @param {Record<string, any>} frame a c2s `direct`.
 * @returns {string[]}
 */
export function recipientsOf(frame) {
  const ids = Array.isArray(frame.toPeerIds) ? frame.toPeerIds : [];
  return [...new Set(ids)].filter((p) => p !== frame.peerId);
}
