/**
 * The demo chat page's route [issue 10]: a development-mode server serves the files of its
 * demo folder at `GET /demo` and `/demo/*`, those of a fixed list only, each with its type;
 * with development mode off, or without a folder, `/demo` is not found. The CLI gives the
 * server the repository's `reference-client/demo` in development mode only.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { demoFolder } from "../../src/cli.js";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server.js";
import { runCli } from "../support/cli-process.js";
import { httpRequest } from "./helpers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = join(root, "reference-server/dist/src/cli.js");

let tmp: string;
let demoDir: string;
let server: RunningServer | undefined;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "confab-demo-route-"));
  // A demo folder with the listed files, and files beside and above it that must never be
  // served: the build script, a secret in the folder, a secret next to it.
  demoDir = join(tmp, "demo");
  mkdirSync(join(demoDir, "dist"), { recursive: true });
  writeFileSync(join(demoDir, "index.html"), "<!doctype html><title>demo</title>");
  writeFileSync(join(demoDir, "demo.js"), "console.log('demo');");
  writeFileSync(join(demoDir, "demo.css"), "body {}");
  writeFileSync(join(demoDir, "dist/confab-client.js"), "export const x = 1;");
  writeFileSync(join(demoDir, "build.mjs"), "SECRET-BUILD");
  writeFileSync(join(demoDir, "secret.txt"), "SECRET-INSIDE");
  writeFileSync(join(tmp, "secret.txt"), "SECRET-OUTSIDE");
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function start(options: ServerOptions): Promise<RunningServer> {
  server = await startServer({ host: "127.0.0.1", port: 0, ...options });
  return server;
}

/** A request whose target goes on the wire exactly as written (no URL normalisation). */
function rawGet(s: RunningServer, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: s.port, path, method: "GET" }, (res) => {
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

describe("the demo page in development mode [issue 10]", () => {
  it("serves index.html at /demo, /demo/ and /demo/index.html as HTML with a script-tight policy", async () => {
    const s = await start({ devMode: true, demoDir });
    for (const path of ["/demo", "/demo/", "/demo/index.html"]) {
      const res = await httpRequest(`${s.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.body).toBe("<!doctype html><title>demo</title>");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(String(res.headers["content-security-policy"])).toContain("script-src 'self'");
    }
  });

  it("serves the page's script, style and the client bundle, each with its Content-Type", async () => {
    const s = await start({ devMode: true, demoDir });
    const types: Record<string, string> = {
      "/demo/demo.js": "text/javascript; charset=utf-8",
      "/demo/demo.css": "text/css; charset=utf-8",
      "/demo/dist/confab-client.js": "text/javascript; charset=utf-8",
    };
    for (const [path, type] of Object.entries(types)) {
      const res = await httpRequest(`${s.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-type"], path).toBe(type);
      expect(Number(res.headers["content-length"])).toBe(Buffer.byteLength(res.body));
    }
    const head = await httpRequest(`${s.url}/demo/demo.js`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("answers a listed file that is not built yet with 404 and how to build it", async () => {
    const s = await start({ devMode: true, demoDir });
    const res = await httpRequest(`${s.url}/demo/dist/confab-client.js.map`);
    expect(res.status).toBe(404);
    expect(res.body).toContain("reference-client/demo/build.mjs");
  });

  it("refuses every path outside its list: other files of the folder, traversal, encoded traversal", async () => {
    const s = await start({ devMode: true, demoDir });
    const paths = [
      "/demo/build.mjs",
      "/demo/secret.txt",
      "/demo/../secret.txt",
      "/demo/%2e%2e/secret.txt",
      "/demo/dist/../../secret.txt",
      "/demo/%2E%2E%2Fsecret.txt",
      "/demo/..%2fsecret.txt",
      "/demo/dist/..%5c..%5csecret.txt",
      "/demo//secret.txt",
      "/demo/index.html/",
      "/demo/./build.mjs",
      "/demo/index.html%00",
      "/demox",
    ];
    for (const path of paths) {
      const res = await rawGet(s, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain("SECRET");
    }
  });
});

describe("the demo page outside development mode [issue 10]", () => {
  it("is not found with development mode off, even with a demo folder given", async () => {
    const s = await start({
      devMode: false,
      apps: [{ appId: "app1", enforceSignatures: false }],
      demoDir,
    });
    for (const path of ["/demo", "/demo/", "/demo/demo.js", "/demo/dist/confab-client.js"]) {
      const res = await httpRequest(`${s.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.body).not.toContain("demo');");
    }
  });

  it("is not found in development mode without a demo folder", async () => {
    const s = await start({ devMode: true });
    expect((await httpRequest(`${s.url}/demo`)).status).toBe(404);
  });
});

describe("confab-server and the demo [issue 10]", () => {
  it("finds the repository's reference-client/demo beside the server package", () => {
    expect(demoFolder()).toBe(join(root, "reference-client/demo"));
  });

  it("serves /demo in development mode, names it in the listening line, and not with --no-dev", async () => {
    const dev = runCli(cli, ["--port", "0", "--db", ":memory:"], { cwd: tmp });
    try {
      const listening = await dev.waitFor("listening");
      expect(listening.demo).toBe(`${String(listening.url)}/demo`);
      const res = await httpRequest(`${String(listening.url)}/demo`);
      expect(res.status).toBe(200);
      expect(res.body).toContain("<title>");
    } finally {
      dev.child.kill("SIGTERM");
      await dev.exited;
    }
    const prod = runCli(cli, ["--port", "0", "--db", ":memory:", "--app", "app1:KEY"], {
      cwd: tmp,
    });
    try {
      const listening = await prod.waitFor("listening");
      expect(listening.demo).toBeUndefined();
      expect((await httpRequest(`${String(listening.url)}/demo`)).status).toBe(404);
    } finally {
      prod.child.kill("SIGTERM");
      await prod.exited;
    }
  });
});
