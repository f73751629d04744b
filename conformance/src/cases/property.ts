/**
 * Cases of the kit for property (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The property cases. */
export const CASES: readonly ServerCase[] = [];
