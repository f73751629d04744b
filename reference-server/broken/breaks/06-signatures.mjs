/**
 * Broken servers of chapter 06 (signatures). They matter for an app that enforces
 * signatures: start them with one, e.g. `--app signed:masterkey`.
 * @module
 */
import { randomBytes } from "node:crypto";
import { groupSignedString, sessionSignedString, sign, uniqueIds } from "@confab/protocol";
import { resolveApp } from "../../dist/src/core/config.js";
import { SqliteStore } from "../../dist/src/store/sqlite-store.js";
import { currentCommand, onCommand, passFailure, wrap } from "../lib/hooks.mjs";

/** The reference's detail when `s` matches no signed string (core/signature.ts). */
const WRONG_HMAC = "s does not match the signed string";
/** The reference's detail when `t` is outside the window (core/signature.ts). */
const EXPIRED = /^t -?\d+ is more than \d+ s from the server clock$/;
/** The error code of a failed signature. */
const SIGNATURE_FAILED = 4102;

/** The signed commands (SIG-ENFORCE-1), with their signed string's kind or group action. */
const SIGNED_COMMANDS = {
  "session/open": "session",
  "session/add": "session",
  "room/join": "join",
  "room/invite": "invite",
  "room/kick": "kick",
};

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * SIG-NONCE-2: the SQLite store keeps used nonces in memory only, so a restart forgets
   * them and a signature replayed after it (inside its 300 seconds) is accepted again.
   * Before a restart replays are refused as usual. With `--db :memory:` nothing survives a
   * restart anyway: run it with a database file.
   */
  "nonce-forgotten-after-restart": () => {
    /** `app\nnonce` → until when it stays used, ms. */
    const used = new Map();
    wrap(
      SqliteStore.prototype,
      "useNonce",
      () =>
        function useNonce(appId, nonce, expiresAt, now) {
          const key = `${appId}\n${nonce}`;
          const until = used.get(key);
          const fresh = until === undefined || until <= now;
          if (fresh) used.set(key, expiresAt);
          for (const [k, t] of used) if (t <= now) used.delete(k);
          return fresh;
        },
    );
  },

  /**
   * SIG-ALG-2: a signed command whose `s` is well formed but not the expected signature
   * (another HMAC, or the right one in upper-case hex) is accepted; a missing, expired or
   * replayed signature is still refused with 4102, and the nonce of an accepted one is
   * recorded as usual.
   */
  "wrong-hmac-accepted": () => {
    passFailure((_ctx, spec, detail) => spec.code === SIGNATURE_FAILED && detail === WRONG_HMAC);
  },

  /**
   * SIG-ENFORCE-1: on an app that enforces signatures, a `session/open`, `session/add`,
   * `room/join`, `room/invite` or `room/kick` that carries none of `s`, `t` and `n` is
   * accepted: the server signs it itself (a fresh nonce, its own clock) before the check.
   * A signature that is present is checked as in the reference: wrong, expired and
   * replayed ones still get 4102.
   */
  "missing-signature-accepted": () => {
    onCommand({
      before({ engine, conn, frame, cmd }) {
        const action = SIGNED_COMMANDS[cmd.name];
        if (action === undefined || ["s", "t", "n"].some((k) => Object.hasOwn(frame, k))) return;
        const app = resolveApp(engine.config, conn.appId ?? frame.appId);
        if (!app?.enforceSignatures || app.masterKey === undefined) return;
        if (typeof frame.peerId !== "string") return;
        const t = Math.floor(Date.now() / 1000);
        const n = `server-made-${randomBytes(9).toString("base64url")}`;
        const common = { appId: app.appId, peerId: frame.peerId, timestamp: t, nonce: n };
        const ids = (v) =>
          Array.isArray(v) ? uniqueIds(v.filter((x) => typeof x === "string")) : [];
        const signed =
          action === "session"
            ? sessionSignedString({
                ...common,
                watchPeerIds: ids(frame.sessionPeerIds),
                superPeer: cmd.name === "session/open" && frame.sp === true ? "sp" : undefined,
              })
            : groupSignedString({
                ...common,
                roomId: typeof frame.roomId === "string" ? frame.roomId : undefined,
                roomPeerIds: action === "join" ? [] : ids(frame.roomPeerIds),
                action,
              });
        Object.assign(frame, { s: sign(app.masterKey, signed), t, n });
      },
    });
  },

  /**
   * SIG-TIME-1: the time window is not checked: a signature whose `t` is more than 300
   * seconds away from the server's clock is accepted when it is otherwise valid. Its nonce
   * is recorded as usual.
   */
  "expired-timestamp-accepted": () => {
    passFailure((_ctx, spec, detail) => spec.code === SIGNATURE_FAILED && EXPIRED.test(detail));
  },

  /**
   * SIG-NONCE-3: the nonce of a signature that fails verification (a wrong `s`) is recorded
   * as used all the same, so anyone can burn another client's nonce with a forged
   * signature: the genuine command then fails with 4102. The forged command itself is
   * refused as usual.
   */
  "forged-signature-burns-nonce": () => {
    onCommand({});
    passFailure((ctx, spec, detail) => {
      if (spec.code !== SIGNATURE_FAILED || detail !== WRONG_HMAC) return false;
      const { n, t } = currentCommand()?.frame ?? {};
      if (typeof n === "string" && Number.isInteger(t)) {
        const windowS = ctx.services.config.signatureWindowS;
        // The engine records these again after it rolls the failed command back.
        ctx.usedNonces.push({
          appId: ctx.appConfig.appId,
          nonce: n,
          expiresAt: (t + windowS + 1) * 1000,
        });
      }
      return false;
    });
  },
};
