/**
 * Cases of the kit for history (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The history cases. */
export const CASES: readonly ServerCase[] = [];
