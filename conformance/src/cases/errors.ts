/**
 * Cases of the kit for errors (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The errors cases. */
export const CASES: readonly ServerCase[] = [];
