import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpValidators, type S2CFrame, validate } from "@confab/protocol";
import { type C2SFrame, connect, disconnect, type WireClient } from "@confab/test-support";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/config.js";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server.js";
import { httpRequest } from "./helpers.js";

let server: RunningServer | undefined;
const clients: WireClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => disconnect(c)));
  await server?.close();
  server = undefined;
});

async function start(options: ServerOptions = {}): Promise<RunningServer> {
  server = await startServer({ host: "127.0.0.1", port: 0, ...options });
  return server;
}

/** The announcement of a router answer, as far as these tests care [ROUTER-INFO-1]. */
const ANNOUNCED = expect.objectContaining({ revision: "1.1" });

function expectValid(schema: string, body: unknown): void {
  const validator = httpValidators[schema];
  if (validator === undefined) throw new Error(`no validator ${schema}`);
  const result = validator(body);
  expect(result.ok ? [] : result.errors).toEqual([]);
}

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await httpRequest(url, { headers });
  expect(res.headers["access-control-allow-origin"]).toBe("*");
  return { ...res, json: JSON.parse(res.body) as unknown };
}

describe("GET /v1/route", () => {
  it("answers with the ws URL of the Host header [ROUTER-GET-1] [ROUTER-GET-2]", async () => {
    const s = await start();
    const res = await getJson(`${s.url}/v1/route?appId=app1`, { Host: "chat.example.com:9000" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json).toEqual({
      server: "ws://chat.example.com:9000/",
      ttl: 3600,
      serverInfo: ANNOUNCED,
    });
    expectValid("route-response", res.json);
  });

  it("answers with a wss URL when the request carries secure=1 [ROUTER-SECURE-1]", async () => {
    const s = await start();
    const res = await getJson(`${s.url}/v1/route?appId=app1&secure=1`, {
      Host: "chat.example.com",
    });
    expect(res.json).toEqual({
      server: "wss://chat.example.com/",
      ttl: 3600,
      serverInfo: ANNOUNCED,
    });
    expectValid("route-response", res.json);
  });

  it("answers with the configured public URL", async () => {
    const s = await start({ publicUrl: "wss://im.example.org/confab" });
    const res = await getJson(`${s.url}/v1/route?appId=app1`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      server: "wss://im.example.org/confab",
      ttl: 3600,
      serverInfo: ANNOUNCED,
    });
    expectValid("route-response", res.json);
  });

  it("answers a URL the server accepts WebSocket connections at [FRAME-WS-1]", async () => {
    const s = await start();
    const res = await getJson(`${s.url}/v1/route?appId=app1`);
    expect((res.json as { server: string }).server).toBe(s.wsUrl);
  });

  it("answers 404 with code 4100 for an app not in the app list [ROUTER-APP-1]", async () => {
    const s = await start({ apps: [{ appId: "known", masterKey: "k", enforceSignatures: true }] });
    const known = await getJson(`${s.url}/v1/route?appId=known`);
    expect(known.status).toBe(200);
    const res = await getJson(`${s.url}/v1/route?appId=other`);
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ code: 4100 });
    expectValid("error", res.json);
  });

  it("routes any app id in development mode", async () => {
    const s = await start({ devMode: true });
    const res = await getJson(`${s.url}/v1/route?appId=anything`);
    expect(res.status).toBe(200);
  });

  it("answers 400 with code 4114 without an appId [ROUTER-APP-2]", async () => {
    const s = await start();
    for (const query of ["", "?appId=", "?secure=1"]) {
      const res = await getJson(`${s.url}/v1/route${query}`);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 4114 });
      expectValid("error", res.json);
    }
  });

  it("answers JSONP when the request carries a valid cb [ROUTER-JSONP-1]", async () => {
    const s = await start();
    const res = await httpRequest(`${s.url}/v1/route?appId=app1&cb=jQuery123_456`, {
      headers: { Host: "h.example" },
    });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/javascript/);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    // The same JSON as without cb, serverInfo included [ROUTER-INFO-1].
    const plain = await httpRequest(`${s.url}/v1/route?appId=app1`, {
      headers: { Host: "h.example" },
    });
    expect(res.body).toBe(`jQuery123_456(${plain.body})`);
    expect(JSON.parse(plain.body)).toMatchObject({ server: "ws://h.example/", ttl: 3600 });
  });

  it("answers 400 with code 4114 to a cb that could carry script [ROUTER-JSONP-2]", async () => {
    const s = await start();
    const res = await getJson(
      `${s.url}/v1/route?appId=app1&cb=${encodeURIComponent("alert(1);f")}`,
    );
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 4114 });
    expectValid("error", res.json);
  });

  it("sends Access-Control-Allow-Origin: * with every router answer [ROUTER-CORS-1]", async () => {
    const s = await start({ apps: [{ appId: "app1", enforceSignatures: false }] });
    for (const query of [
      "?appId=app1",
      "?appId=nope",
      "",
      "?appId=app1&cb=f",
      "?appId=app1&cb=1",
    ]) {
      const res = await httpRequest(`${s.url}/v1/route${query}`);
      expect(res.headers["access-control-allow-origin"]).toBe("*");
    }
  });
});

describe("GET /1.1/rtm/messages/logs", () => {
  it("answers a page of history for the app of the header", async () => {
    const s = await start({ apps: [{ appId: "app1", masterKey: "mk", enforceSignatures: true }] });
    const res = await getJson(`${s.url}/1.1/rtm/messages/logs?limit=10`, {
      "X-AVOSCloud-Application-Id": "app1",
      "X-AVOSCloud-Master-Key": "mk",
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
    expectValid("logs-response", res.json);
  });

  it("takes the app id from the query when the header is absent", async () => {
    const s = await start({ devMode: true });
    const res = await getJson(`${s.url}/1.1/rtm/messages/logs?appId=app1`);
    expect(res.status).toBe(200);
    expectValid("logs-response", res.json);
  });

  it("answers 401 with code 4102 without the master key of an app that has one [REST-AUTH-1]", async () => {
    const s = await start({ apps: [{ appId: "app1", masterKey: "mk", enforceSignatures: true }] });
    for (const key of [undefined, "wrong"]) {
      const headers: Record<string, string> = { "X-AVOSCloud-Application-Id": "app1" };
      if (key !== undefined) headers["X-AVOSCloud-Master-Key"] = key;
      const res = await getJson(`${s.url}/1.1/rtm/messages/logs`, headers);
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ code: 4102 });
      expectValid("error", res.json);
    }
  });

  it("answers 404 with code 4100 for an app it does not serve [REST-APP-2]", async () => {
    const s = await start({ apps: [{ appId: "app1", masterKey: "mk", enforceSignatures: true }] });
    const res = await getJson(`${s.url}/1.1/rtm/messages/logs`, {
      "X-AVOSCloud-Application-Id": "other",
    });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ code: 4100 });
    expectValid("error", res.json);
  });

  it("prefers the header over the appId query parameter [REST-APP-1]", async () => {
    const s = await start({ apps: [{ appId: "app1", masterKey: "mk", enforceSignatures: true }] });
    const res = await getJson(`${s.url}/1.1/rtm/messages/logs?appId=other`, {
      "X-AVOSCloud-Application-Id": "app1",
      "X-AVOSCloud-Master-Key": "mk",
    });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/); // [REST-OK-1]
  });

  it("answers 400 with code 4114 to both convid and from [REST-PARAM-1]", async () => {
    const s = await start();
    const res = await getJson(`${s.url}/1.1/rtm/messages/logs?appId=app1&convid=a&from=b`);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 4114 });
    expectValid("error", res.json);
  });
});

describe("GET /1.1/rtm/rooms/{roomId}/members and GET /1.1/rtm/peers/{peerId}/rooms", () => {
  const MK = { "X-AVOSCloud-Application-Id": "app1", "X-AVOSCloud-Master-Key": "mk" };
  const apps = [{ appId: "app1", masterKey: "mk", enforceSignatures: false }];

  /** A session of `peerId` on a real socket, and a way to run one command on it. */
  async function session(s: RunningServer, peerId: string) {
    const c = await connect(s.wsUrl, "confab.v1");
    clients.push(c);
    let serial = 0;
    const call = async (frame: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const i = ++serial;
      c.send({ ...frame, peerId, appId: "app1", i } as C2SFrame);
      for (;;) {
        const f = (await c.next()) as Record<string, unknown>;
        if (f.i !== i) continue;
        expect(validate("s2c", f as S2CFrame).ok).toBe(true);
        return f;
      }
    };
    await call({ cmd: "session", op: "open" });
    return call;
  }

  /** alice creates groups and invites bob into two of them, over the socket; their ids. */
  async function groups(s: RunningServer, n = 3): Promise<string[]> {
    const alice = await session(s, "alice");
    const ids: string[] = [];
    for (let k = 0; k < n; k++) {
      const r = await alice({ cmd: "room", op: "join" });
      ids.push(r.roomId as string);
    }
    for (const roomId of ids.slice(0, 2)) {
      await alice({ cmd: "room", op: "invite", roomId, roomPeerIds: ["bob"] });
    }
    return ids;
  }

  const bytewise = (ids: readonly string[]) =>
    [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

  it("[REST-ROOMS-5] answers the members of a group made over the socket", async () => {
    const s = await start({ apps });
    const [g1] = await groups(s);
    const res = await getJson(`${s.url}/1.1/rtm/rooms/${g1}/members`, MK);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expectValid("room-members-response", res.json);
    const body = res.json as { roomId: string; roomPeerIds: string[] };
    expect(body.roomId).toBe(g1);
    expect([...body.roomPeerIds].sort()).toEqual(["alice", "bob"]);
  });

  it("[REST-ROOMS-6] answers 404 with code 4404 for an unknown group, 200 for an emptied one", async () => {
    const s = await start({ apps });
    const unknown = await getJson(`${s.url}/1.1/rtm/rooms/nope/members`, MK);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 4404 });
    expectValid("error", unknown.json);
    const carol = await session(s, "carol");
    const { roomId } = await carol({ cmd: "room", op: "join" });
    await carol({ cmd: "room", op: "leave", roomId });
    const empty = await getJson(`${s.url}/1.1/rtm/rooms/${String(roomId)}/members`, MK);
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ roomId, roomPeerIds: [] });
  });

  it("[REST-ROOMS-7] answers a peer's groups in pages, as room/list does over the socket", async () => {
    const s = await start({ apps });
    const ids = await groups(s, 5);
    const all = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms`, MK);
    expect(all.status).toBe(200);
    expect(all.headers["content-type"]).toMatch(/^application\/json/);
    expectValid("peer-rooms-response", all.json);
    expect(all.json).toEqual({ peerId: "alice", roomIds: bytewise(ids), more: false });

    const first = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms?limit=2`, MK);
    const page = first.json as { roomIds: string[]; more: boolean };
    expect(page).toEqual({ peerId: "alice", roomIds: bytewise(ids).slice(0, 2), more: true });
    const after = encodeURIComponent(page.roomIds[1] as string);
    const next = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms?limit=2&after=${after}`, MK);
    expect(next.json).toMatchObject({ roomIds: bytewise(ids).slice(2, 4), more: true });

    const bob = await getJson(`${s.url}/1.1/rtm/peers/bob/rooms`, MK);
    expect(bob.json).toEqual({ peerId: "bob", roomIds: bytewise(ids.slice(0, 2)), more: false });
    const nobody = await getJson(`${s.url}/1.1/rtm/peers/nobody/rooms`, MK);
    expect(nobody.status).toBe(200);
    expect(nobody.json).toEqual({ peerId: "nobody", roomIds: [], more: false });

    // [ROOM-LIST-1] The same page over the socket, for bob's own session.
    const bobSession = await session(s, "bob");
    const listed = await bobSession({ cmd: "room", op: "list", limit: 1 });
    expect(listed).toMatchObject({
      cmd: "room",
      op: "list-result",
      roomIds: bytewise(ids.slice(0, 2)).slice(0, 1),
      more: true,
    });
  });

  it("[REST-ROOMS-7] decodes percent-encoded ids in the path", async () => {
    const s = await start({ apps });
    const peer = "ana/ü b";
    const call = await session(s, peer);
    const { roomId } = await call({ cmd: "room", op: "join" });
    const path = `/1.1/rtm/peers/${encodeURIComponent(peer)}/rooms`;
    const res = await getJson(`${s.url}${path}`, MK);
    expect(res.json).toEqual({ peerId: peer, roomIds: [roomId], more: false });
    const members = await getJson(`${s.url}/1.1/rtm/rooms/${String(roomId)}/members`, MK);
    expect(members.json).toEqual({ roomId, roomPeerIds: [peer] });
  });

  it("[REST-ROOMS-1] takes the app from the header or the appId parameter, and answers 404 with 4100 for an unknown app", async () => {
    const s = await start({ apps });
    const byParam = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms?appId=app1`, {
      "X-AVOSCloud-Master-Key": "mk",
    });
    expect(byParam.status).toBe(200);
    for (const path of ["/1.1/rtm/peers/alice/rooms", "/1.1/rtm/rooms/g1/members"]) {
      const stranger: Record<string, string> = { "X-AVOSCloud-Application-Id": "other" };
      for (const headers of [stranger, {}]) {
        const res = await getJson(`${s.url}${path}`, headers);
        expect(res.status).toBe(404);
        expect(res.json).toMatchObject({ code: 4100 });
        expectValid("error", res.json);
      }
    }
  });

  it("[REST-ROOMS-2] answers 401 with code 4102 without the master key", async () => {
    const s = await start({ apps });
    for (const path of ["/1.1/rtm/peers/alice/rooms", "/1.1/rtm/rooms/g1/members"]) {
      for (const key of [undefined, "wrong"]) {
        const headers: Record<string, string> = { "X-AVOSCloud-Application-Id": "app1" };
        if (key !== undefined) headers["X-AVOSCloud-Master-Key"] = key;
        const res = await getJson(`${s.url}${path}`, headers);
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({ code: 4102 });
        expectValid("error", res.json);
      }
    }
  });

  it("[REST-ROOMS-8] answers an app without a master key, whatever key the request carries", async () => {
    const s = await start({ apps: [{ appId: "app1", enforceSignatures: false }] });
    const withKey: Record<string, string> = { "X-AVOSCloud-Master-Key": "anything" };
    for (const headers of [{}, withKey]) {
      const rooms = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms?appId=app1`, headers);
      expect(rooms.status).toBe(200);
      expect(rooms.json).toEqual({ peerId: "alice", roomIds: [], more: false });
      const members = await getJson(`${s.url}/1.1/rtm/rooms/g1/members?appId=app1`, headers);
      expect(members.status).toBe(404); // authorized: it gets as far as the group
      expect(members.json).toMatchObject({ code: 4404 });
    }
  });

  it("[REST-ROOMS-1] [REST-ROOMS-3] reads the query string as history does: repeated or empty parameters are invalid", async () => {
    const s = await start({ apps });
    for (const query of ["limit=2&limit=3", "after=a&after=b", "limit=", "limit=010"]) {
      const res = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms?${query}`, MK);
      if (query === "limit=010") {
        expect(res.status, query).toBe(200); // leading zeros: 10 (REST-INT-1)
        continue;
      }
      expect(res.status, query).toBe(400);
      expect(res.json).toMatchObject({ code: 4114 });
    }
    // A repeated appId names no app (REST-APP-3).
    const twice = await getJson(`${s.url}/1.1/rtm/peers/alice/rooms?appId=app1&appId=app1`, {
      "X-AVOSCloud-Master-Key": "mk",
    });
    expect(twice.status).toBe(404);
    expect(twice.json).toMatchObject({ code: 4100 });
  });

  it("[REST-ROOMS-3] answers 400 with code 4114 to a bad id, after or limit", async () => {
    const s = await start({ apps });
    for (const path of [
      "/1.1/rtm/rooms/a%3Ab/members", // ':' is in no id
      "/1.1/rtm/rooms/%E0%A4%A/members", // not percent-encoded UTF-8
      "/1.1/rtm/peers/%FF/rooms",
      `/1.1/rtm/peers/${"x".repeat(65)}/rooms`,
      "/1.1/rtm/peers/alice/rooms?limit=0",
      "/1.1/rtm/peers/alice/rooms?limit=501",
      "/1.1/rtm/peers/alice/rooms?limit=1e2",
      "/1.1/rtm/peers/alice/rooms?after=a%3Ab",
      "/1.1/rtm/peers/alice/rooms?after=",
    ]) {
      const res = await getJson(`${s.url}${path}`, MK);
      expect(res.status, path).toBe(400);
      expect(res.json).toMatchObject({ code: 4114 });
      expectValid("error", res.json);
    }
  });

  it("[REST-ROOMS-4] checks the app, then the key, then the parameters, then the group", async () => {
    const s = await start({ apps });
    const bad = "/1.1/rtm/rooms/a%3Ab/members";
    const statusOf = async (path: string, headers: Record<string, string>) =>
      (await getJson(`${s.url}${path}`, headers)).status;
    expect(await statusOf(bad, { "X-AVOSCloud-Application-Id": "other" })).toBe(404);
    expect(await statusOf(bad, { "X-AVOSCloud-Application-Id": "app1" })).toBe(401);
    expect(
      await statusOf("/1.1/rtm/rooms/nope/members", { "X-AVOSCloud-Application-Id": "app1" }),
    ).toBe(401);
    expect(await statusOf(bad, MK)).toBe(400);
    expect(await statusOf("/1.1/rtm/rooms/nope/members", MK)).toBe(404);
  });
});

describe("other endpoints", () => {
  it("answers /healthz with the connection and session counts", async () => {
    const s = await start();
    const res = await getJson(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok", connections: 0, sessions: 0 });
  });

  it("answers 404 with a JSON error body to an unknown path", async () => {
    const s = await start();
    const res = await getJson(`${s.url}/nope`);
    expect(res.status).toBe(404);
    expectValid("error", res.json);
  });

  it("answers 405 to a method other than GET", async () => {
    const s = await start();
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await httpRequest(`${s.url}/v1/route?appId=app1`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toContain("GET");
      expect(res.headers["access-control-allow-origin"]).toBe("*");
      expectValid("error", JSON.parse(res.body));
    }
  });

  it("answers a CORS preflight naming the REST headers", async () => {
    const s = await start();
    const res = await httpRequest(`${s.url}/1.1/rtm/messages/logs`, { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(String(res.headers["access-control-allow-headers"])).toContain("X-AVOSCloud-Master-Key");
  });
});

describe("router and REST query strings (v1.1: D20)", () => {
  it("answers 400 with code 4114 to a malformed appId, in development mode too [ROUTER-APP-3]", async () => {
    for (const options of [
      { devMode: true },
      { apps: [{ appId: "app1", enforceSignatures: false }] },
    ]) {
      const s = await start(options);
      for (const appId of ["", "bad%20app", "a:b", "x".repeat(65), "%C3%A9"]) {
        const res = await getJson(`${s.url}/v1/route?appId=${appId}`);
        expect(res.status, appId).toBe(400);
        expect(res.json).toMatchObject({ code: 4114 });
        expectValid("error", res.json);
      }
      await s.close();
      server = undefined;
    }
  });

  it("answers 400 with code 4114 to appId, secure or cb given twice [ROUTER-PARAM-1]", async () => {
    const s = await start({ devMode: true });
    for (const query of [
      "appId=app1&appId=app1",
      "appId=app1&appId=app2",
      "appId=app1&secure=1&secure=1",
      "appId=app1&cb=f&cb=f",
    ]) {
      const res = await getJson(`${s.url}/v1/route?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json).toMatchObject({ code: 4114 }); // plain JSON, even with cb given twice
    }
    // Parameters the router does not define are ignored, repeated or not.
    expect((await getJson(`${s.url}/v1/route?appId=app1&_=1&_=2`)).status).toBe(200);
  });

  it("answers errors in JSONP form with their own status when cb is valid [ROUTER-JSONP-3]", async () => {
    const s = await start({ apps: [{ appId: "app1", enforceSignatures: false }] });
    const cases: [string, number, number][] = [
      ["appId=other", 404, 4100], // ROUTER-APP-1
      ["secure=1", 400, 4114], // ROUTER-APP-2
      ["appId=bad%20app", 400, 4114], // ROUTER-APP-3
      ["appId=app1&appId=app1", 400, 4114], // ROUTER-PARAM-1
    ];
    for (const [query, status, code] of cases) {
      const res = await httpRequest(`${s.url}/v1/route?${query}&cb=jQuery1_2`);
      expect(res.status, query).toBe(status);
      expect(res.headers["content-type"]).toMatch(/^application\/javascript/);
      expect(res.headers["access-control-allow-origin"]).toBe("*");
      const m = /^jQuery1_2\((.*)\)$/s.exec(res.body);
      expect(m, res.body).not.toBeNull();
      const body = JSON.parse(m?.[1] ?? "null") as unknown;
      expect(body).toMatchObject({ code });
      expectValid("error", body);
    }
  });

  it("answers a repeated history parameter with 400 and a repeated appId with 404, over HTTP [REST-PARAM-3] [REST-APP-3]", async () => {
    const s = await start({ devMode: true });
    const twice = await getJson(`${s.url}/1.1/rtm/messages/logs?appId=app1&from=a&from=b`);
    expect(twice.status).toBe(400);
    expect(twice.json).toMatchObject({ code: 4114 });
    const apps = await getJson(`${s.url}/1.1/rtm/messages/logs?appId=app1&appId=app1`);
    expect(apps.status).toBe(404);
    expect(apps.json).toMatchObject({ code: 4100 });
    const zeros = await getJson(`${s.url}/1.1/rtm/messages/logs?appId=app1&limit=007`);
    expect(zeros.status).toBe(200); // [REST-INT-1]
  });
});

describe("the router's announcement", () => {
  it("[ROUTER-INFO-1] adds the serverInfo of the named app, the one session/opened carries, with the configured limits", async () => {
    const s = await start({
      devMode: false,
      apps: [
        { appId: "plain", enforceSignatures: false },
        { appId: "signed", masterKey: "k", enforceSignatures: true },
      ],
      readTimeoutMs: 250_000,
      engine: { limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: 3, offlineTtlMs: 2_000 } },
    });
    const plain = await getJson(`${s.url}/v1/route?appId=plain`);
    expectValid("route-response", plain.json);
    const info = (plain.json as { serverInfo: Record<string, Record<string, unknown>> }).serverInfo;
    expect(info.revision).toBe("1.1");
    expect(info.features).toMatchObject({ receipts: true, echo: true, signatures: false });
    expect(info.limits).toMatchObject({
      offlineCount: 3,
      offlineAgeMs: 2_000,
      readTimeoutMs: 250_000,
      msgBytes: 5120,
    });
    const signed = await getJson(`${s.url}/v1/route?appId=signed`);
    expect(signed.json).toMatchObject({ serverInfo: { features: { signatures: true } } });
    // The same object a session of the app gets in session/opened [SESSION-INFO-1].
    const c = await connect<Record<string, unknown>>(s.wsUrl);
    try {
      c.send({ cmd: "session", op: "open", appId: "plain", peerId: "p", i: 1 });
      const opened = await c.next();
      expect(opened).toMatchObject({ op: "opened", i: 1 });
      expect(opened.serverInfo).toEqual(info);
    } finally {
      await disconnect(c);
    }
    // An app that is not served gets its 404 and no announcement [ROUTER-APP-1].
    const other = await getJson(`${s.url}/v1/route?appId=other`);
    expect(other.status).toBe(404);
    expect(other.json).not.toHaveProperty("serverInfo");
  });
});

describe("REST reads and the commit interval", () => {
  it("[ACK-DURABLE-2] commits what the core wrote before a REST history answer shows it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "confab-rest-commit-"));
    try {
      const db = join(dir, "c.db");
      // A commit interval of 3 s: the session's reply waits for it, then the REST read below
      // comes well within the next one, so only that read can commit the message in time.
      const s = await start({
        db,
        commitIntervalMs: 3000,
        apps: [{ appId: "app1", masterKey: "mk", enforceSignatures: false }],
      });
      const alice = await connect(s.wsUrl, "confab.v1");
      clients.push(alice);
      alice.send({ cmd: "session", op: "open", appId: "app1", peerId: "alice", i: 1 } as C2SFrame);
      expect(await alice.next()).toMatchObject({ cmd: "session", op: "opened", i: 1 });
      alice.send({
        cmd: "direct",
        appId: "app1",
        peerId: "alice",
        toPeerIds: ["bob"],
        msg: "hello",
        i: 2,
      } as C2SFrame);
      // The direct reaches the core before the REST request is answered: wait for its row in
      // the server's own (uncommitted) view through the history endpoint.
      let items: { data?: string }[] = [];
      for (let k = 0; k < 50 && items.length === 0; k++) {
        const res = await getJson(`${s.url}/1.1/rtm/messages/logs?limit=10`, {
          "X-AVOSCloud-Application-Id": "app1",
          "X-AVOSCloud-Master-Key": "mk",
        });
        items = res.json as { data?: string }[];
        if (items.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(items.map((m) => m.data)).toEqual(["hello"]);
      // What the answer showed is committed: another connection to the file reads it.
      const other = new Database(db, { readonly: true });
      try {
        expect(other.prepare("SELECT msg FROM messages").all()).toEqual([{ msg: "hello" }]);
      } finally {
        other.close();
      }
      // And the commit released the ack with it.
      expect(await alice.next()).toMatchObject({ cmd: "ack", i: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
