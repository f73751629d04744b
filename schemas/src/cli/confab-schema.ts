#!/usr/bin/env node
/**
 * The `confab-schema` bin: `confab-schema diff BASE HEAD`, the protocol-change gate
 * (`--help` for its usage). The work is in `../diff/node/cli.ts`, a function tests call
 * in-process; this file only binds it to the process.
 * @module
 */
import { runConfabSchema } from "../diff/node/cli.js";

process.exitCode = runConfabSchema(process.argv.slice(2), {
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
