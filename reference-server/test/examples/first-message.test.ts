/**
 * The README's first conversation (examples/first-message.mjs) runs as written against a
 * real server, so the example a newcomer copies cannot rot.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";

const script = fileURLToPath(new URL("../../../examples/first-message.mjs", import.meta.url));

describe("the README's first message", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it("[ACK-REPLY-1] [DIRECT-DELIVER-1] [ACK-REMOVE-1] [LOGS-SOCKET-1] opens two sessions, sends, acks, delivers and reads history", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [script, server.wsUrl], { timeout: 15_000 }, (err, stdout) =>
        err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout),
      );
    });
    expect(out).toMatch(/alice ← \{"cmd":"ack"/);
    expect(out).toMatch(/bob ← \{"cmd":"direct"/);
    expect(out).toMatch(/bob → \{"cmd":"ack"/);
    expect(out).toMatch(/alice ← \{"cmd":"logs","op":"result"/);
    expect(out).toContain("done:");
  });
});
