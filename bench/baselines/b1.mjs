#!/usr/bin/env node
/**
 * Baseline B1: B0 plus durability. Every message is inserted into SQLite (WAL, synchronous
 * NORMAL) in one transaction per event-loop turn, and acked and forwarded only after that
 * commit: the floor of a durable relay on this machine.
 * `node bench/baselines/b1.mjs --db PATH [--port N]`. See relay.mjs.
 * @module
 */
import { main } from "./relay.mjs";

if (!process.argv.includes("--db")) {
  process.stderr.write("b1: --db PATH is required\n");
  process.exit(2);
}
await main();
