/**
 * Cases of the kit for transport (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The transport cases. */
export const CASES: readonly ServerCase[] = [];
