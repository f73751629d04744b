/**
 * Cases of the kit for groups (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The groups cases. */
export const CASES: readonly ServerCase[] = [];
