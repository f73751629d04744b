// The server compiles every command validator before it listens, so that its first client
// does not wait for ajv (issue 11's cold start: the first session/open took 31-43 ms). Its
// own file: vitest gives each file a fresh module graph, so no validator is compiled before
// startServer here, and a server that left them lazy would leave all of them to compile.
import { precompile } from "@confab/protocol";
import { describe, expect, it } from "vitest";
import type { LogLevel } from "../../src/log.js";
import { startServer } from "../../src/server.js";

describe("start-up", () => {
  it("compiles every c2s validator before it listens, and logs how long it took", async () => {
    const lines: { level: LogLevel; event: string; fields?: Readonly<Record<string, unknown>> }[] =
      [];
    const server = await startServer({
      port: 0,
      logger: { log: (level, event, fields) => lines.push({ level, event, fields }) },
    });
    try {
      expect(precompile("c2s")).toBe(0);
      const line = lines.find((l) => l.event === "validators_compiled");
      expect(line?.level).toBe("debug");
      expect(line?.fields?.count).toBeGreaterThan(10);
      expect(typeof line?.fields?.ms).toBe("number");
      // A second server in the same process finds them compiled: no second line.
      const second = await startServer({
        port: 0,
        logger: { log: (level, event, fields) => lines.push({ level, event, fields }) },
      });
      await second.close();
      expect(lines.filter((l) => l.event === "validators_compiled")).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
