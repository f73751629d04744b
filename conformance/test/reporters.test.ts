/**
 * The reporters against a hand-built report with every outcome: the JSON round trip, the
 * JUnit document against the JUnit schemas (and a broken one against them, so the check can
 * fail), XML escaping as a property, HTML escaping of hostile frames, the terminal reporter.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import type { CaseResult, ExchangeEvent, Report } from "../src/report.js";
import {
  createTtyReporter,
  escapeHtml,
  escapeXmlAttr,
  escapeXmlText,
  readReport,
  renderHtml,
  renderJson,
  renderJunit,
  sanitizeXml,
} from "../src/reporters/index.js";
import { FAILING_EXCHANGE, HOSTILE, sampleReport } from "./fixtures/sample-report.js";

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
/** Windy Road's Ant schema (strict) and the Jenkins xUnit plugin's. */
const SCHEMAS = {
  "JUnit.xsd (Windy Road)": fixture("junit.xsd"),
  "junit-10.xsd (Jenkins)": fixture("junit-jenkins.xsd"),
};

async function validate(xml: string, xsd: string) {
  return validateXML({ xml: [{ fileName: "report.xml", contents: xml }], schema: [xsd] });
}

/** Decodes the five entities and numeric character references. */
function decodeXml(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e.startsWith("#x")
      ? String.fromCodePoint(Number.parseInt(e.slice(2), 16))
      : e.startsWith("#")
        ? String.fromCodePoint(Number.parseInt(e.slice(1), 10))
        : (named[e] ?? ""),
  );
}

/** A character XML 1.0 does not allow. */
const ILLEGAL = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Strings of any UTF-16 code units, lone surrogates included, heavy on XML's special characters. */
const nasty = fc.string({
  unit: fc.oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom("<", ">", "&", '"', "'", "\t", "\n", "\r", "\r\n", "]]>", "&amp;", "&#0;"),
    fc.constantFrom(
      "\u0000",
      "\u0001",
      "\u001b",
      "\u007f",
      "\u0085",
      "\uFFFE",
      "\uFFFF",
      "\uD800",
      "\uDFFF",
    ),
  ),
  maxLength: 40,
});

describe("JSON reporter", () => {
  it("round-trips a report", () => {
    const report = sampleReport();
    const text = renderJson(report);
    expect(readReport(text)).toEqual(report);
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "kit": {');
  });

  it("is stable: the same report gives the same bytes, whatever its key order", () => {
    const report = sampleReport();
    const shuffled = JSON.parse(JSON.stringify(report), function (this: unknown, _k, v: unknown) {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
      return Object.fromEntries(Object.entries(v).reverse());
    }) as Report;
    // Frames are written as received: put their key order back before comparing.
    const frames = shuffled.cases.map((c, i) => ({
      ...c,
      ...(c.exchange !== undefined && {
        exchange: c.exchange.map((e, j) => ({
          ...e,
          frame: report.cases[i]?.exchange?.[j]?.frame,
        })),
      }),
    }));
    const reordered = {
      ...shuffled,
      cases: frames,
      target: { ...shuffled.target, serverInfo: report.target.serverInfo },
    };
    expect(renderJson(reordered)).toBe(renderJson(report));
    expect(renderJson(readReport(renderJson(report)))).toBe(renderJson(report));
    // Features sorted by name.
    expect(renderJson(report)).toMatch(/"groups": false,\s+"history": true,\s+"signatures": false/);
  });

  it("refuses what is not a report, saying why", () => {
    expect(() => readReport("nope")).toThrow(/not a conformance report: not JSON/);
    expect(() => readReport("[]")).toThrow(/not a conformance report: the top level is an array/);
    expect(() => readReport('{"numTotalTests": 3, "testResults": []}')).toThrow(/kit is not/);
    const noCases = { ...sampleReport(), cases: "x" };
    expect(() => readReport(JSON.stringify(noCases))).toThrow(/cases is not an array/);
    const badGrade = sampleReport();
    const text = JSON.stringify({ ...badGrade, cases: [{ ...badGrade.cases[0], grade: "ok" }] });
    expect(() => readReport(text)).toThrow(/grade "ok"/);
    expect(readReport(`\uFEFF${renderJson(badGrade)}`).seed).toBe(42);
  });
});

describe("JUnit reporter", () => {
  const xml = renderJunit(sampleReport());

  for (const [name, xsd] of Object.entries(SCHEMAS)) {
    it(`validates against ${name}`, async () => {
      const result = await validate(xml, xsd);
      expect(result.errors.map((e) => e.message)).toEqual([]);
      expect(result.valid).toBe(true);
    });

    it(`validates against ${name} with no case, and with an unnamed family`, async () => {
      const empty = await validate(renderJunit({ ...sampleReport(), cases: [] }), xsd);
      expect(empty.errors.map((e) => e.message)).toEqual([]);
      const odd: CaseResult = {
        name: "/ x",
        requirements: [],
        grade: "pass",
        durationMs: Number.NaN,
      };
      const doc = renderJunit(sampleReport([odd]));
      expect(doc).toContain('<testcase classname="(unnamed)" name="/ x" time="0.000"/>');
      expect((await validate(doc, xsd)).valid).toBe(true);
    });

    it(`a document that breaks ${name} fails it (so the check can fail)`, async () => {
      const nameless = xml.replace(
        /<testcase classname="direct" name="[^"]*"/,
        '<testcase classname="direct"',
      );
      expect(nameless).not.toBe(xml);
      const result = await validate(nameless, xsd);
      expect(result.valid).toBe(false);
      expect(result.errors.map((e) => e.message).join("\n")).toMatch(/'name' is required/);
      // Not well-formed: a raw control character.
      const control = await validate(
        xml.replace("direct/offline/evicts-oldest", "direct/\u0001"),
        xsd,
      );
      expect(control.valid).toBe(false);
    });
  }

  it("has one testsuite per family and maps every outcome", () => {
    const suites = [
      ...xml.matchAll(
        /<testsuite name="([^"]+)"[^>]*tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/g,
      ),
    ].map((m) => m.slice(1).join(" "));
    expect(suites).toEqual([
      "session 1 0 0 0",
      "direct 3 2 0 1", // the failure and the stale one; the flaky one skipped
      "presence 1 0 0 0",
      "groups 1 0 0 1",
      "history 1 0 1 0",
      "signatures 1 0 0 1",
    ]);
    expect(xml).toContain(
      '<testcase classname="direct" name="direct/offline/evicts-oldest" time="1.234">',
    );
    expect(xml).toMatch(
      /<failure message="DIRECT-OFFLINE-3 \(MUST\): the oldest message[^"]*" type="DIRECT-OFFLINE-3">DIRECT-OFFLINE-3 \(MUST\): When the offline store is full/,
    );
    expect(xml).toContain('expected: ["m2","m3"]');
    expect(xml).toContain("exchange (9 events):");
    expect(xml).toContain('    20 ms c2   ← {"cmd":"error","code":4401,"reason":"&lt;/script&gt;');
    expect(xml).toContain("    25 ms http GET /1.1/rtm/messages/logs?convid=x → 200\n");
    expect(xml).toContain("    40 ms c2   close 4107</failure>");
    expect(xml).toContain(
      "replay: npx confab-conformance --run 'direct/offline/evicts-oldest' --seed 42",
    );
    expect(xml).toContain(
      '<skipped message="not applicable: the target has no groups (feature groups off)">',
    );
    expect(xml).toContain(
      '<skipped message="expected failure: SIG-ENFORCE-1 (MUST): the unsigned session/open was accepted">',
    );
    expect(xml).toContain(
      '<skipped message="flaky, failure ignored: DIRECT-RCP-1 (MUST): no rcp within 2 s">',
    );
    expect(xml).toMatch(
      /<failure message="listed as an expected failure but graded pass[^"]*" type="stale-expected-failure">/,
    );
    expect(xml).toMatch(
      /<error message="harness error: the kit&apos;s own frame[^"]*" type="harness-error">/,
    );
    expect(xml).toMatch(
      /<system-out>warning: presence\/watch\/announces-within-1s: SHOULD PRESENCE-ON-2 broken: A server SHOULD announce presence within 1 s\./,
    );
    expect(xml).toContain(
      '<testcase classname="presence" name="presence/watch/announces-within-1s" time="1.500"/>',
    );
    for (const [k, v] of [
      ["seed", "42"],
      ["profile", "quick"],
      ["target.url", "ws://127.0.0.1:8080/"],
      ["spec.revision", "1.1"],
    ])
      expect(xml).toContain(`<property name="${k}" value="${v}"/>`);
    expect(xml).toContain('timestamp="2026-12-01T11:24:27"');
    expect(xml).not.toMatch(ILLEGAL);
  });

  describe("escaping (property)", () => {
    it("escaped text and attributes hold only XML 1.0 characters and decode to the sanitized input", () => {
      fc.assert(
        fc.property(nasty, (s) => {
          const attr = escapeXmlAttr(s);
          const text = escapeXmlText(s);
          for (const out of [attr, text]) {
            expect(ILLEGAL.test(out)).toBe(false);
            expect(out).not.toMatch(/[<>\r]/);
            expect(out).not.toMatch(/&(?!(?:amp|lt|gt|quot|apos|#[0-9]+);)/);
            expect(decodeXml(out)).toBe(sanitizeXml(s));
          }
          expect(attr).not.toMatch(/["'\t\n]/);
          expect(ILLEGAL.test(sanitizeXml(s))).toBe(false);
        }),
        { numRuns: 2000 },
      );
    });

    it("leaves legal text as it is", () => {
      fc.assert(
        fc.property(fc.string({ unit: "binary" }), (s) => {
          fc.pre(!ILLEGAL.test(s));
          expect(sanitizeXml(s)).toBe(s);
        }),
      );
    });

    it("a real XML parser reads back every hostile value and the schema still holds", async () => {
      const xsd = SCHEMAS["JUnit.xsd (Windy Road)"];
      await fc.assert(
        fc.asyncProperty(nasty, nasty, nasty, async (name, message, value) => {
          const hostile: CaseResult = {
            name: `direct/${name}`,
            requirements: [],
            grade: "fail",
            durationMs: 1,
            failure: {
              requirement: `X-${name}`,
              level: "MUST",
              text: value,
              message,
              actual: value,
            },
            exchange: [{ t: 0, conn: name, kind: "recv", frame: { v: value }, text: value }],
          };
          const report = { ...sampleReport([hostile]), profile: value };
          const doc = renderJunit(report);
          const checked = await validate(doc, xsd);
          expect(checked.errors.map((e) => e.message)).toEqual([]);
          const c14n = await validateXML({
            xml: [{ fileName: "report.xml", contents: doc }],
            normalization: "c14n",
          });
          const profile = /<property name="profile" value="([^"]*)">/.exec(c14n.normalized)?.[1];
          expect(decodeXml(profile ?? "(missing)")).toBe(sanitizeXml(value));
        }),
        { numRuns: 15 },
      );
    }, 60_000);
  });
});

describe("HTML reporter", () => {
  const report = sampleReport();
  const html = renderHtml(report);

  it("lets no hostile frame, name or value inject markup", () => {
    expect(html.match(/<script/gi)).toHaveLength(1);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\\u0000\\u001b[31m");
    expect(html).not.toMatch(ILLEGAL);
    const hostileName: CaseResult = {
      name: `direct/${HOSTILE}"' onmouseover="alert(3)`,
      requirements: [HOSTILE],
      grade: "fail",
      durationMs: 1,
      reason: HOSTILE,
      exchange: [{ t: 0, conn: HOSTILE, kind: "send", frame: HOSTILE, problem: HOSTILE }],
    };
    const page = renderHtml(sampleReport([hostileName]));
    expect(page.match(/<script/gi)).toHaveLength(1);
    expect(page).not.toMatch(/onmouseover="alert/);
  });

  it("allows only its own style and script, by hash", () => {
    const csp =
      /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? "";
    const hash = (s: string) => createHash("sha256").update(s, "utf8").digest("base64");
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
    expect(csp.replaceAll("&#39;", "'")).toContain(
      `default-src 'none'; style-src 'sha256-${hash(style)}'; script-src 'sha256-${hash(script)}'`,
    );
    expect(html).not.toMatch(/\b(?:src|href)="(?!#)/);
  });

  it("shows the summary, the coverage chart and the untested requirements", () => {
    expect(html).toContain('<span class="status exit-1">failed (exit code 1)</span>');
    expect(html).toContain("coverage: 9/12 server requirements (75%)");
    expect(html.match(/<g class="chapter-bar">/g)).toHaveLength(report.chapters.length);
    expect(html).toContain("<code>HISTORY-REST-1</code>");
    expect(html).toContain("<code>SIG-ALG-3</code>");
    expect(html).toContain("ws://127.0.0.1:8080/");
  });

  it("draws the exchange as a sequence diagram, one arrow per frame", () => {
    const section = /<section class="case" id="case-1"[\s\S]*?<\/section>/.exec(html)?.[0] ?? "";
    const lanes = [
      ...section.matchAll(/<g class="lane (\w+)"><rect[^>]*\/><text[^>]*>([^<]*)<\/text>/g),
    ].map((m) => m[2]);
    expect(lanes).toEqual(["c1", "c2", "http", "server"]);
    const arrows = section.match(/<g class="arrow (?:send|recv)/g) ?? [];
    expect(arrows).toHaveLength(
      FAILING_EXCHANGE.filter((e) => e.kind === "send" || e.kind === "recv").length,
    );
    expect(section.match(/<g class="arrow http/g)).toHaveLength(1);
    expect(section).toContain("close 4107");
    expect(section).toMatch(/>⚠ error 4401 i=2</);
    expect(section).toContain(">session/open i=1<");
    expect(section).toContain("replay (seed 42, path 0:1)");
    expect(section).toContain('<details class="frames"><summary>Frames (9 events)</summary>');
    // Passing cases are listed, collapsed.
    expect(html).toMatch(
      /<details class="passed"><summary>1 passing case<\/summary>[\s\S]*session\/open\/replies-opened/,
    );
  });

  it("keeps the diagram bounded", () => {
    const many: ExchangeEvent[] = Array.from({ length: 250 }, (_, i) => ({
      t: i,
      conn: `c${(i % 3) + 1}`,
      kind: i % 2 === 0 ? "send" : "recv",
      frame: { cmd: "direct", i },
    }));
    const long: CaseResult = {
      name: "direct/long/exchange",
      requirements: [],
      grade: "fail",
      durationMs: 1,
      exchange: many,
    };
    const page = renderHtml(sampleReport([long]));
    const section = /<section class="case" id="case-8"[\s\S]*?<\/section>/.exec(page)?.[0] ?? "";
    expect(section.match(/<g class="arrow (?:send|recv)/g)).toHaveLength(200);
    expect(section).toContain("… 50 more events, not drawn");
  });

  it("escapes any string for text and attributes (property)", () => {
    fc.assert(
      fc.property(nasty, (s) => {
        const out = escapeHtml(s);
        expect(out).not.toMatch(/[<>"']/);
        expect(out).not.toMatch(/&(?!(?:amp|lt|gt|quot|#39);)/);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("terminal reporter", () => {
  /** A stream that keeps what is written. */
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    const out = { isTTY, columns: 120, write: (s: string) => chunks.push(String(s)) > 0 };
    return {
      out: out as unknown as NodeJS.WritableStream & { isTTY: boolean },
      text: () => chunks.join(""),
    };
  };
  const run = (isTTY: boolean) => {
    const report = sampleReport();
    const { out, text } = sink(isTTY);
    let clock = 0;
    const tty = createTtyReporter(out, { color: false, tickMs: 0, now: () => clock });
    tty.start(report.cases.length);
    report.cases.forEach((c, i) => {
      tty.caseStarted(c.name);
      clock += 1000;
      tty.caseFinished(c, i + 1, report.cases.length);
    });
    const progress = text();
    tty.finish(report);
    return { progress, all: text() };
  };

  it("off a TTY prints one line per case that did not pass, then the summary, naming the requirement", () => {
    const { progress, all } = run(false);
    expect(progress.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(
        /^FAIL {2}direct\/offline\/evicts-oldest {2}DIRECT-OFFLINE-3 \(MUST\) the oldest message/,
      ),
      expect.stringMatching(
        /^WARN {2}presence\/watch\/announces-within-1s {2}PRESENCE-ON-2 \(SHOULD\)/,
      ),
      "N/A   groups/join/refuses-over-bound  the target has no groups (feature groups off)",
      expect.stringMatching(/^ERROR history\/logs\/answers-logs {2}harness error/),
      "STALE direct/ack/echoes-i",
      expect.stringMatching(/^XFAIL signatures\/enforce\/refuses-unsigned {2}SIG-ENFORCE-1/),
      expect.stringMatching(/^FLAKY direct\/rcp\/after-ack {2}DIRECT-RCP-1/),
    ]);
    expect(all).not.toContain("session/open/replies-opened");
    expect(all).not.toContain("\r");
    expect(all).not.toContain("\u001b");
    expect(all).toContain(
      "8 cases: 2 passed, 3 failed, 1 warned, 1 n/a, 1 error (1 expected failure, 1 stale, 1 flaky) in 33.6s",
    );
    expect(all).toContain(
      "  DIRECT-OFFLINE-3 MUST: When the offline store is full, a server MUST evict the oldest message.",
    );
    expect(all).toContain('    expected: ["m2","m3"]');
    expect(all).toContain(
      '    actual:   ["m1","m2"] "><img src=x onerror=alert(2)>\\u0000\\u001b[31m',
    );
    expect(all).toContain(
      "  replay: npx confab-conformance --run 'direct/offline/evicts-oldest' --seed 42 --path 0:1",
    );
    expect(all).toContain("coverage: 9/12 server requirements (75%)");
    expect(all).toContain("  untested: 4. Groups 1, 5. History 1, 6. Signatures 1");
    expect(all).toMatch(/FAILED \(exit code 1\)\n$/);
    // Failures before warnings before the baseline's.
    expect(all.indexOf("STALE direct/ack")).toBeLessThan(all.lastIndexOf("FAIL direct/offline"));
    expect(all.lastIndexOf("FAIL direct/offline")).toBeLessThan(all.lastIndexOf("WARN presence"));
  });

  it("on a TTY rewrites one status line", () => {
    const { progress, all } = run(true);
    expect(progress).toContain("\r\u001b[2K[0/8]   elapsed 0.0s");
    expect(progress).toContain("\r\u001b[2K[1/8] direct/offline/evicts-oldest  elapsed 1.0s");
    expect(progress).toContain("\r\u001b[2KFAIL  direct/offline/evicts-oldest");
    expect(progress).toContain("\r\u001b[2K[8/8]   elapsed 8.0s");
    expect(all.slice(progress.length).startsWith("\r\u001b[2K\n8 cases:")).toBe(true);
  });
});
