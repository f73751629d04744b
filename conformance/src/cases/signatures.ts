/**
 * Cases of the kit for signatures (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The signatures cases. */
export const CASES: readonly ServerCase[] = [];
