#!/usr/bin/env node
// The file npm links as the `confab-conformance` command. It is committed, so npm can link
// it (and make it executable) at install, before the root's `prepare` builds dist/.
import { main } from "../dist/src/cli.js";

process.exit(await main());
