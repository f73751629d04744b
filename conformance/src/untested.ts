/**
 * Why the kit has no case for a server requirement: the few that no client can observe or
 * cause over the wire. The coverage matrix shows the reason next to each, so an untested
 * requirement is a stated limit of the kit, not an oversight (a test of the kit fails when
 * a requirement is neither named by a case nor listed here).
 * @module
 */

/** The reason, by requirement ID. */
export const UNTESTED: Readonly<Record<string, string>> = {
  "FRAME-ORIGIN-1": "a MAY: what it allows is graded through FRAME-ORIGIN-2 and FRAME-ORIGIN-3",
  "SERIAL-ORDER-2": "a MAY that only relaxes SERIAL-ORDER-1: there is no behaviour to check",
  "SESSION-APP-6": "a MAY: what it constrains is graded through SESSION-APP-7",
  "SESSION-DISABLE-1":
    "needs an app disabled while connections are bound to it, which no client can cause",
  "ACK-FAIL-1":
    "needs storage that refuses writes (spec 10.3, Table 12), which a kit over the wire cannot cause",
  "ERROR-INTERNAL-1":
    "needs a failure of the server's own, such as storage that refuses writes (Table 12)",
  "ERROR-RESYNC-1": "a MAY that needs a failed commit after frames were due (Table 12)",
  "OFFLINE-SWEEP-1":
    "not observable: an expired message is never delivered whether or not it was removed",
  "OFFLINE-PUSH-1":
    "a MAY: the push cases run when the server announces push-hook (OFFLINE-PUSH-2 to 12)",
  "SIG-ALG-3":
    "a constant-time comparison differs by nanoseconds, below a network's jitter: a case could not fail",
  "ERROR-KICK-1":
    "a MAY whose trigger (the app or the operator ending a connection) no client can cause",
  "ERROR-APP-1": "a MAY whose trigger (an app-defined policy) no client can cause",
  "ERROR-BUFFER-1":
    "a MAY whose bound is neither stated nor announced: a case could not tell a server that never closes from one not yet at its bound",
};
