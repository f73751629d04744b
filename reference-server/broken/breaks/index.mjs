/**
 * Every broken server by name: the function that applies its patch. `manifest.json` says
 * which requirement each one breaks; `serve.mjs` refuses a name that is in one and not
 * the other.
 * @module
 */
import { BREAKS as TRANSPORT } from "./01-transport.mjs";
import { BREAKS as SESSIONS } from "./02-sessions.mjs";
import { BREAKS as MESSAGES } from "./03-messages.mjs";
import { BREAKS as GROUPS } from "./04-groups.mjs";
import { BREAKS as HISTORY } from "./05-history.mjs";
import { BREAKS as SIGNATURES } from "./06-signatures.mjs";
import { BREAKS as LIMITS } from "./07-limits.mjs";
import { BREAKS as ERRORS } from "./08-errors.mjs";
import { BREAKS as VERSIONING } from "./09-versioning.mjs";

/** @type {Readonly<Record<string, () => void>>} */
export const BREAKS = Object.freeze({
  ...TRANSPORT,
  ...SESSIONS,
  ...MESSAGES,
  ...GROUPS,
  ...HISTORY,
  ...SIGNATURES,
  ...LIMITS,
  ...ERRORS,
  ...VERSIONING,
});
