#!/usr/bin/env node
/**
 * Baseline B0: a bare `ws` relay (parse the JSON, look up the recipient, forward it, ack
 * the sender), no durability. `node bench/baselines/b0.mjs [--port N]`. See relay.mjs.
 * @module
 */
import { main } from "./relay.mjs";

await main();
