/**
 * Cases of the kit for versioning (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The versioning cases. */
export const CASES: readonly ServerCase[] = [];
