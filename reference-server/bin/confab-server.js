#!/usr/bin/env node
// The file npm links as the `confab-server` command. It is committed, so npm can link it
// (and make it executable) at install, before the root's `prepare` builds dist/.
import { main } from "../dist/src/cli.js";

main().then(
  (status) => process.exit(status),
  (err) => {
    process.stderr.write(
      `confab-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
