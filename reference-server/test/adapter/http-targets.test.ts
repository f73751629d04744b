/**
 * Request targets and query errors of the HTTP side: a target that is no valid path is the
 * client's mistake (4xx), never the server's (500), and a REST error names query
 * parameters, not frame fields (issue 8, item 9).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ port: 0 });
});
afterAll(async () => {
  await server.close();
});

/** Sends `GET <path>` exactly as given, without URL parsing on the client side. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("request targets", () => {
  it("answers 4xx, never 500, to targets that a URL parser cannot resolve", async () => {
    for (const path of ["//[", "//x:99999/", "//[::1", "/%zz", "//:0/"]) {
      const r = await rawGet(path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
      const body = JSON.parse(r.body) as { code: number; error: string };
      expect(body.code, path).toBe(4114);
    }
    // The server is still healthy afterwards.
    expect((await rawGet("/healthz")).status).toBe(200);
  });

  it("[REST-PARAM-1] speaks of query parameters when convid and from are both given", async () => {
    const r = await rawGet("/1.1/rtm/messages/logs?appId=demo&convid=abc&from=alice");
    expect(r.status).toBe(400);
    const { code, error } = JSON.parse(r.body) as { code: number; error: string };
    expect(code).toBe(4114);
    expect(error).toMatch(/convid.*from/);
    expect(error).not.toMatch(/frame|cmd/);
  });
});
