#!/usr/bin/env node
/**
 * Baseline BF: a bare fan-out. B0 with rooms: a `direct` to a `roomId` goes to every other
 * member's sockets (500 in the benchmark), no durability.
 * `node bench/baselines/bf.mjs [--port N]`. See relay.mjs.
 * @module
 */
import { main } from "./relay.mjs";

await main({ rooms: true });
