// The callbacks given to page.evaluate run in the page, on its DOM.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The HTML report in a real browser: the system Chromium (no browser download) opens the
 * sample report from a file and must log no error, run no injected script, fetch nothing,
 * and draw the sequence diagram and the coverage chart.
 *
 * Without Chromium the test fails when `CI` is set (CI installs it: see .ci/run) and is
 * skipped otherwise, saying so. `CHROMIUM_PATH` names another binary.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../src/reporters/index.js";
import { FAILING_EXCHANGE, sampleReport } from "./fixtures/sample-report.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
const ci = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";
if (!present && !ci) {
  console.warn(
    `html-report.browser.test: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}

describe.skipIf(!present && !ci)("the HTML report in Chromium", () => {
  // A failing test of its own, so that CI's summary counts it as a failure.
  it(`finds Chromium at ${CHROMIUM}`, () => {
    if (!present) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: the browser test needs the system Chromium (CI installs it in .ci/run: apt-get install -y --no-install-recommends chromium; set CHROMIUM_PATH for another binary)`,
      );
    }
  });

  describe.skipIf(!present)("rendered", rendered);
});

function rendered() {
  const report = sampleReport();
  let dir: string;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "confab-html-report-"));
    const file = join(dir, "report.html");
    writeFileSync(file, renderHtml(report));
    url = pathToFileURL(file).href;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 10_000,
    });
    page = await browser.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warn")
        problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) =>
      problems.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`),
    );
    page.on("dialog", (d) => {
      problems.push(`dialog (injected script ran?): ${d.message()}`);
      void d.dismiss();
    });
    page.on("request", (r) => requests.push(r.url()));
    await page.evaluateOnNewDocument(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await page.goto(url, { waitUntil: "load", timeout: 10_000 });
  }, 15_000);

  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("loads with no console error, page error, dialog or request but its own file", async () => {
    // Let the script's handlers run and any late error surface.
    await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
  });

  it("draws the sequence diagram: one arrow per frame sent or received, one lane per connection", async () => {
    const drawn = await page.evaluate(() => {
      const svg = document.querySelector("#case-1 svg.seq");
      if (!(svg instanceof SVGSVGElement)) return undefined;
      const arrows = [...svg.querySelectorAll("g.arrow.send, g.arrow.recv")] as SVGGElement[];
      return {
        arrows: arrows.length,
        visible: arrows.filter((g) => g.getBBox().width > 50).length,
        lanes: [...svg.querySelectorAll("g.lane text")].map((t) => t.textContent),
        http: svg.querySelectorAll("g.arrow.http").length,
        closes: svg.querySelectorAll("g.mark.close").length,
        titles: arrows.map((g) => g.querySelector("title")?.textContent ?? ""),
        height: svg.getBoundingClientRect().height,
      };
    });
    const frames = FAILING_EXCHANGE.filter((e) => e.kind === "send" || e.kind === "recv");
    expect(drawn).toBeDefined();
    expect(drawn?.arrows).toBe(frames.length);
    expect(drawn?.visible).toBe(frames.length);
    expect(drawn?.lanes).toEqual(["c1", "c2", "http", "server"]);
    expect(drawn?.http).toBe(1);
    expect(drawn?.closes).toBe(1);
    expect(drawn?.height).toBeGreaterThan(FAILING_EXCHANGE.length * 20);
    // The full frame is on hover, hostile text as text.
    expect(drawn?.titles[3]).toContain('"reason": "</script><script>alert(1)</script>"');
  });

  it("draws the coverage chart: a bar per chapter, its segments filling the bar", async () => {
    const chart = await page.evaluate(() =>
      [...document.querySelectorAll("svg.chart g.chapter-bar")].map((g) =>
        [...g.querySelectorAll("rect.seg")].reduce(
          (w, r) => w + (r as SVGRectElement).getBBox().width,
          0,
        ),
      ),
    );
    expect(chart).toHaveLength(report.chapters.length);
    for (const width of chart) expect(width).toBeCloseTo(400, 0);
  });

  it("its script works: an arrow opens its frame, the filter hides cases", async () => {
    await page.click("#case-1 svg.seq g.arrow.recv");
    const opened = await page.evaluate(() => {
      const li = document.getElementById("case-1-e2");
      return { open: li?.closest("details")?.open, hl: li?.classList.contains("hl") };
    });
    expect(opened).toEqual({ open: true, hl: true });
    await page.type("#filter", "presence");
    const hidden = await page.evaluate(() =>
      [...document.querySelectorAll("section.case")].map(
        (s) => `${s.id}:${(s as HTMLElement).hidden}`,
      ),
    );
    expect(hidden).toContain("case-1:true");
    expect(hidden).toContain("case-2:false");
    expect(problems).toEqual([]);
  });
}
