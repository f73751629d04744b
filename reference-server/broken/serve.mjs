#!/usr/bin/env node
/**
 * Runs one deliberately broken reference server, for the conformance kit's self-test:
 *
 *     node reference-server/broken/serve.mjs NAME [confab-server flags]
 *
 * NAME is one entry of `manifest.json`; the server then breaks exactly the requirement
 * that entry names and otherwise behaves as `confab-server` does, with every flag of it
 * (`--port`, `--db`, `--app`, `--config`, …), its log lines (`listening` included) and its
 * stop on SIGTERM. An unknown or missing NAME exits with status 2 and lists the names.
 *
 * The patch is applied to the compiled reference (`../dist`, built by `npm run build`)
 * before its CLI starts; `reference-server/src` has no switch for any of this.
 * @module
 */
import { readFileSync } from "node:fs";
import { BREAKS } from "./breaks/index.mjs";

/** @type {{ name: string, requirement: string, stateful: boolean, description: string }[]} */
const manifest = JSON.parse(readFileSync(new URL("./manifest.json", import.meta.url), "utf8"));

const [name, ...rest] = process.argv.slice(2);
const entry = manifest.find((e) => e.name === name);
if (entry === undefined) {
  const names = manifest.map((e) => `  ${e.name}  (${e.requirement})`).join("\n");
  const what = name === undefined ? "no broken server named" : `unknown broken server "${name}"`;
  process.stderr.write(
    `confab-broken-server: ${what}\n` +
      "usage: node reference-server/broken/serve.mjs NAME [confab-server flags]\n" +
      `NAME is one of:\n${names}\n`,
  );
  process.exit(2);
}
const apply = BREAKS[name];
if (apply === undefined) {
  process.stderr.write(`confab-broken-server: ${name} is in manifest.json but has no patch\n`);
  process.exit(1);
}
apply();
// One line in the server's own log format, so that nobody mistakes it for the reference.
process.stdout.write(
  `${JSON.stringify({
    ts: new Date().toISOString(),
    level: "warn",
    event: "broken_server",
    name,
    requirement: entry.requirement,
    description: entry.description,
  })}\n`,
);
const { main } = await import("../dist/src/cli.js");
process.exit(await main(rest));
