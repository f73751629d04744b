/**
 * Chapter 01 (v1.1): what a server does with JSON's loose ends (duplicate names, number
 * spellings), and chapter 08's closes: the error frame before a close is the command's one
 * reply, and a close no command caused names no session.
 */
import { describe, expect, it } from "vitest";
import {
  expectClosed,
  expectError,
  type FakeConn,
  Harness,
  plainHarness,
  sessionSig,
  signedHarness,
} from "./support-core.js";

/** Sends raw text (not re-encoded by JSON.stringify, so duplicates survive). */
function sendText(c: FakeConn, text: string): void {
  c.send(text);
}

describe("JSON on the wire (1.3)", () => {
  it("[FRAME-JSON-3] uses the last occurrence of a duplicated member name, for every purpose", () => {
    const h = new Harness();
    const c = h.connect();
    sendText(
      c,
      '{"cmd":"session","op":"open","appId":"app1","peerId":"mallory","peerId":"alice","sessionPeerIds":[],"i":1}',
    );
    const opened = c.expectOne("session/opened");
    expect(opened.peerId).toBe("alice");
    // The session is alice's, and only alice's.
    sendText(
      c,
      '{"cmd":"session","op":"query","appId":"app1","peerId":"mallory","sessionPeerIds":[],"i":2}',
    );
    expectError(c, 4105, { i: 2 });
  });

  it("[FRAME-JSON-3] checks a signature against the same value the command then uses", () => {
    const h = signedHarness();
    const c = h.connect();
    const sigFor = (peer: string) => sessionSig(h, peer, []);
    const open = (first: string, last: string, sig: { s: string; t: number; n: string }) =>
      `{"cmd":"session","op":"open","appId":"app1","peerId":"${first}","peerId":"${last}","sessionPeerIds":[],"s":"${sig.s}","t":${sig.t},"n":"${sig.n}","i":1}`;
    // Signed for alice, but the last peerId is bob: the signature is checked for bob, fails,
    // and nothing opens for either.
    sendText(c, open("alice", "bob", sigFor("alice")));
    expectError(c, 4102, { i: 1, peerId: "bob" });
    expect(h.engine.stats().sessions).toBe(0);
    // Signed for bob, whose id comes last: the session that opens is bob's.
    sendText(c, open("alice", "bob", sigFor("bob")));
    expect(c.expectOne("session/opened").peerId).toBe("bob");
  });

  it("[FRAME-NUMBER-1] takes an integer by its value whatever its spelling, and echoes it plainly", () => {
    const h = new Harness();
    const c = h.connect();
    sendText(
      c,
      '{"cmd":"session","op":"open","appId":"app1","peerId":"alice","sessionPeerIds":[],"i":5.0}',
    );
    expect(c.expectOne("session/opened").i).toBe(5);
    sendText(
      c,
      '{"cmd":"session","op":"query","appId":"app1","peerId":"alice","sessionPeerIds":[],"i":7e0}',
    );
    const r = c.expectOne("session/query-result");
    expect(r.i).toBe(7);
    // A value that is not an integer stays invalid, whatever its spelling.
    sendText(
      c,
      '{"cmd":"session","op":"query","appId":"app1","peerId":"alice","sessionPeerIds":[],"i":7.5}',
    );
    expectError(c, 4114);
  });
});

describe("closes (8.3)", () => {
  it("[ERROR-CLOSE-5] [FRAME-SCHEMA-3] answers a first command with i that names no app with one error frame, its one reply, then the close", () => {
    const { h } = { h: plainHarness() };
    const c = h.connect();
    c.send({ cmd: "nope", appId: "no-such-app", peerId: "alice", i: 9 });
    const frames = c.drain();
    expect(frames).toEqual([
      expect.objectContaining({ cmd: "error", code: 4100, i: 9, peerId: "alice" }),
    ]);
    expectClosed(c, 4100);
  });

  it("[FRAME-SCHEMA-3] [FRAME-SCHEMA-1] answers an unknown command with 4114 once the connection is bound", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    c.drain();
    c.send({ cmd: "nope", appId: "app1", peerId: "alice", i: 3 });
    expectError(c, 4114, { i: 3 });
    expect(c.closed).toBeUndefined();
  });

  it("[FRAME-PEERID-1] [ERROR-CLOSE-4] sends the error frame of a close no command caused without peerId", () => {
    const h = new Harness({ loginTimeoutMs: 1000 });
    const c = h.connect();
    h.advance(1500);
    const [frame] = c.drain();
    expect(frame).toMatchObject({ cmd: "error", code: 4108 });
    expect(frame).not.toHaveProperty("peerId");
    expect(frame).not.toHaveProperty("i");
    expectClosed(c, 4108);
  });
});
