/**
 * Every case of the kit, by chapter of the spec. A chapter's file exports `CASES`.
 * @module
 */
import type { ServerCase } from "../case.js";
import { CASES as direct } from "./direct.js";
import { CASES as durability } from "./durability.js";
import { CASES as errors } from "./errors.js";
import { CASES as groups } from "./groups.js";
import { CASES as history } from "./history.js";
import { CASES as limits } from "./limits.js";
import { CASES as property } from "./property.js";
import { CASES as push } from "./push.js";
import { CASES as sessions } from "./sessions.js";
import { CASES as signatures } from "./signatures.js";
import { CASES as transport } from "./transport.js";
import { CASES as versioning } from "./versioning.js";

/** Every case of the kit. */
export const ALL_CASES: readonly ServerCase[] = [
  ...transport,
  ...sessions,
  ...direct,
  ...push,
  ...groups,
  ...history,
  ...signatures,
  ...limits,
  ...errors,
  ...versioning,
  ...property,
  ...durability,
];
