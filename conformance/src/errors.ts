/**
 * What ends a case other than passing. A case throws these; the runner grades them: a
 * {@link ServerFault} by its requirement's level (MUST fails, SHOULD and MAY warn), a
 * {@link NotApplicable} as not applicable, a {@link HarnessError} (or anything else thrown)
 * as the kit's own error, never as the server's.
 * @module
 */

/** Details of a {@link ServerFault}. */
export interface FaultDetails {
  /** What the spec expects. */
  readonly expected?: string;
  /** What came. */
  readonly actual?: string;
}

/** The server broke a requirement. */
export class ServerFault extends Error {
  /**
   * @param requirement - the requirement's ID
   * @param message - what went wrong
   * @param details - expected and actual
   */
  constructor(
    readonly requirement: string,
    message: string,
    readonly details: FaultDetails = {},
  ) {
    super(message);
    this.name = "ServerFault";
  }
}

/** The case cannot apply to this target: a feature not in force, an app not provisioned. */
export class NotApplicable extends Error {
  /** @param reason - why, naming the feature or provision */
  constructor(reason: string) {
    super(reason);
    this.name = "NotApplicable";
  }
}

/** The kit itself went wrong: its own invalid frame, a bad case, an unusable target. */
export class HarnessError extends Error {
  /** @param message - what went wrong */
  constructor(message: string) {
    super(message);
    this.name = "HarnessError";
  }
}

/** A SHOULD or MAY the server did not follow: recorded, and the case goes on. */
export interface Warning {
  readonly requirement: string;
  readonly message: string;
  readonly details: FaultDetails;
}
