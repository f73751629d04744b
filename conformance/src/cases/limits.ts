/**
 * Cases of the kit for limits (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The limits cases. */
export const CASES: readonly ServerCase[] = [];
