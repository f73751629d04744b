// The wire client against the scripted server: frames both ways, bounded waits, quiet and
// close reporting.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect, disconnect, ScriptedServer, type WireClient } from "../index.js";

let server: ScriptedServer;
let client: WireClient<unknown> | undefined;

beforeEach(async () => {
  server = new ScriptedServer();
  await server.start();
});
afterEach(async () => {
  await disconnect(client);
  client = undefined;
  await server.stop();
});

describe("wire client", () => {
  it("sends frames as JSON text and receives the answers in order", async () => {
    server.respond((frame) => [{ echo: frame }, {}]);
    client = await connect<unknown>(server.wsUrl);
    client.send({ cmd: "session", op: "open", appId: "app1", peerId: "alice" });
    expect(await client.next()).toEqual({
      echo: { cmd: "session", op: "open", appId: "app1", peerId: "alice" },
    });
    expect(await client.next()).toEqual({});
    expect(client.received).toHaveLength(2);
  });

  it("rejects next after its bound when nothing arrives", async () => {
    client = await connect<unknown>(server.wsUrl);
    await expect(client.next(50)).rejects.toThrow(/no frame within 50 ms/);
  });

  it("waits until quiet, and keeps what is not JSON text apart", async () => {
    server.respond(() => ["not json", { ok: true }]);
    client = await connect<unknown>(server.wsUrl);
    client.sendText("{}");
    await client.quiet(100);
    expect(client.received).toEqual([{ ok: true }]);
    expect(client.malformed).toEqual(["not json"]);
  });

  it("reports the server's close code and reason, and rejects next once closed", async () => {
    client = await connect<unknown>(server.wsUrl);
    const conn = await server.waitForConnection(0);
    conn.socket.close(4102, "SIGNATURE_FAILED");
    expect(await client.closed).toEqual({ code: 4102, reason: "SIGNATURE_FAILED" });
    expect(client.closeInfo).toEqual({ code: 4102, reason: "SIGNATURE_FAILED" });
    expect(client.isOpen).toBe(false);
    await expect(client.next()).rejects.toThrow("closed");
  });

  it("fails to connect when nothing listens", async () => {
    await server.stop();
    await expect(connect(server.wsUrl)).rejects.toThrow();
  });
});
