/**
 * Cases of the kit for sessions (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The sessions cases. */
export const CASES: readonly ServerCase[] = [];
