// Signed strings, signatures and conversation ids against the vectors of spec/06 and spec/05.
import {
  conversationId,
  groupSignedString,
  sameSecret,
  sessionSignedString,
  sign,
  signatureMatches,
} from "@confab/protocol";
import { TEST_MASTER_KEY } from "@confab/test-support";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const T = 1417334400;

describe("signatures [SIG]", () => {
  it("builds the open/watch string with watch ids sorted and colon-joined", () => {
    const s = sessionSignedString({
      appId: "app1",
      peerId: "alice",
      watchPeerIds: ["carol", "bob"],
      timestamp: T,
      nonce: "n0nce",
    });
    expect(s).toBe("app1:alice:bob:carol:1417334400:n0nce");
    expect(sign(TEST_MASTER_KEY, s)).toBe("31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e");
  });

  it("leaves the watch part empty when nothing is watched", () => {
    const s = sessionSignedString({
      appId: "app1",
      peerId: "alice",
      watchPeerIds: [],
      timestamp: T,
      nonce: "n0nce",
    });
    expect(s).toBe("app1:alice::1417334400:n0nce");
    expect(sign(TEST_MASTER_KEY, s)).toBe("e9ceb17f10c1fa3c348000863f7e6332aa2c897d");
  });

  it("appends the super-peer suffix", () => {
    const s = sessionSignedString({
      appId: "app1",
      peerId: "alice",
      watchPeerIds: [],
      timestamp: T,
      nonce: "n0nce",
      superPeer: "sp",
    });
    expect(s).toBe("app1:alice::1417334400:n0nce:sp");
  });

  it("builds group strings with an empty group id on create and empty peers on join", () => {
    const invite = groupSignedString({
      appId: "app1",
      peerId: "alice",
      roomId: "g1",
      roomPeerIds: ["carol", "bob"],
      timestamp: T,
      nonce: "n0nce",
      action: "invite",
    });
    expect(invite).toBe("app1:alice:g1:bob:carol:1417334400:n0nce:invite");
    expect(sign(TEST_MASTER_KEY, invite)).toBe("6ca832cbc9b3d7e358b962d652526e2d57e8b45c");
    const join = groupSignedString({
      appId: "app1",
      peerId: "alice",
      roomId: undefined,
      roomPeerIds: [],
      timestamp: T,
      nonce: "n0nce",
      action: "join",
    });
    expect(join).toBe("app1:alice:::1417334400:n0nce:join");
    expect(sign(TEST_MASTER_KEY, join)).toBe("5529070bf3eb8d624a3790296b697bed9c921d41");
  });

  it("compares signatures exactly, rejecting other keys, case and lengths", () => {
    const s = "app1:alice::1417334400:n0nce";
    expect(signatureMatches(TEST_MASTER_KEY, s, "e9ceb17f10c1fa3c348000863f7e6332aa2c897d")).toBe(
      true,
    );
    expect(signatureMatches(TEST_MASTER_KEY, s, "E9CEB17F10C1FA3C348000863F7E6332AA2C897D")).toBe(
      false,
    );
    expect(signatureMatches("other", s, "e9ceb17f10c1fa3c348000863f7e6332aa2c897d")).toBe(false);
    expect(signatureMatches(TEST_MASTER_KEY, s, "e9ce")).toBe(false);
  });
});

describe("sameSecret [SIG-ALG-3]", () => {
  it("matches equal secrets only, and never undefined", () => {
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("xbc", "abc")).toBe(false);
    expect(sameSecret("abx", "abc")).toBe(false);
    expect(sameSecret("ab", "abc")).toBe(false);
    expect(sameSecret(undefined, "abc")).toBe(false);
    expect(sameSecret("é", "e\u0301")).toBe(false);
  });

  it("agrees with string equality for any pair of strings", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(sameSecret(a, b)).toBe(a === b);
        expect(sameSecret(a, a)).toBe(true);
      }),
    );
  });

  it("matches Node's HMAC-SHA1 and md5, so the pure implementation is the standard one", async () => {
    const { createHash, createHmac } = await import("node:crypto");
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: "grapheme" }), (key, text) => {
        expect(sign(key, text)).toBe(createHmac("sha1", key).update(text, "utf8").digest("hex"));
      }),
    );
    const parts = ["u1", "ü2", "😀"];
    expect(conversationId(parts)).toBe(
      createHash("md5")
        .update([...parts].sort().join(":"), "utf8")
        .digest("hex"),
    );
  });
});

describe("conversation id [CONVID]", () => {
  it("is the md5 of the sorted participants", () => {
    expect(conversationId(["u1234", "u0988"])).toBe("bcd26a54e98687390b0abb4d83683d4b");
    expect(conversationId(["u0988", "u1234", "u1234"])).toBe("bcd26a54e98687390b0abb4d83683d4b");
  });
});
