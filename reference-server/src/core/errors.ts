/**
 * The one exception a command handler throws to fail its command. The codes themselves,
 * their names and forms are protocol facts and live in `@confab/protocol` (`ERRORS`).
 * @module
 */
import type { ErrorSpec } from "@confab/protocol";

/** A failure of one command, raised by a handler and turned into an error frame. */
export class CommandError extends Error {
  /** The registry entry. */
  readonly spec: ErrorSpec;
  /** Human-readable detail sent in the frame's `detail` [ERROR-FRAME-4]. */
  readonly detail: string;

  /** @param spec an entry of `ERRORS`; @param detail what exactly went wrong. */
  constructor(spec: ErrorSpec, detail: string) {
    super(`${spec.name}: ${detail}`);
    this.spec = spec;
    this.detail = detail;
  }
}
