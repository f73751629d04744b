/**
 * Cases of the kit for durability (see spec/ and the case-writing guide in conformance/README.md).
 * @module
 */
import type { ServerCase } from "../case.js";

/** The durability cases. */
export const CASES: readonly ServerCase[] = [];
