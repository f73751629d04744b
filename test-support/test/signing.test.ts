// The test signer signs as the spec's vectors say (spec/06-signatures.md, Tables 4 and 5).
import { describe, expect, it } from "vitest";
import {
  freshNonce,
  groupSignature,
  sessionSignature,
  signText,
  TEST_MASTER_KEY,
} from "../index.js";

const T = 1417334400;

describe("test signer", () => {
  it("[SIG-SESSION-1] signs a session vector with the test master key, watch ids in any order", () => {
    const sig = sessionSignature({
      appId: "app1",
      peerId: "alice",
      watchPeerIds: ["carol", "bob", "carol"],
      t: T,
      n: "n0nce",
    });
    expect(sig).toEqual({ s: "31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e", t: T, n: "n0nce" });
  });

  it("[SIG-GROUP-1] signs the group vectors of invite and create", () => {
    const base = { appId: "app1", peerId: "alice", t: T, n: "n0nce" };
    expect(
      groupSignature({ ...base, action: "invite", roomId: "g1", roomPeerIds: ["carol", "bob"] }).s,
    ).toBe("6ca832cbc9b3d7e358b962d652526e2d57e8b45c");
    expect(groupSignature({ ...base, action: "join", roomId: undefined, roomPeerIds: [] }).s).toBe(
      "5529070bf3eb8d624a3790296b697bed9c921d41",
    );
  });

  it("signs a raw signed string, with another key on request", () => {
    expect(signText("app1:alice::1417334400:n0nce")).toBe(
      "e9ceb17f10c1fa3c348000863f7e6332aa2c897d",
    );
    expect(signText("app1:alice::1417334400:n0nce", `${TEST_MASTER_KEY}2`)).not.toBe(
      "e9ceb17f10c1fa3c348000863f7e6332aa2c897d",
    );
  });

  it("appends the super-peer suffix and defaults t to now and n to a fresh nonce", () => {
    const before = Math.floor(Date.now() / 1000);
    const sig = sessionSignature({
      appId: "app1",
      peerId: "bot",
      watchPeerIds: [],
      superPeer: "sp",
    });
    expect(sig.t).toBeGreaterThanOrEqual(before);
    expect(sig.s).toBe(signText(`app1:bot::${sig.t}:${sig.n}:sp`));
    expect(freshNonce()).not.toBe(freshNonce());
  });
});
