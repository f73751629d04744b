#!/usr/bin/env node
// The file npm links as the `confab-schema` command. It is committed, so npm can link it
// (and make it executable) at install, before the root's `prepare` builds dist/.
import "../dist/src/cli/confab-schema.js";
