/**
 * The HTML reporter: one self-contained file (inline CSS, a little inline script, inline SVG,
 * nothing fetched) that a person opens after a red CI run. It shows the summary, coverage
 * per chapter as a chart, the untested requirements, and for every case that did not pass the
 * requirement it broke, the values, the replay command and the exchange drawn as a message
 * sequence diagram.
 *
 * Frames come from the server under test, so every string is HTML-escaped where it is
 * written, and a Content-Security-Policy allows only this file's own style and script (by
 * hash): text that slipped through escaping still could not run.
 * @module
 */
import { createHash } from "node:crypto";
import type { CaseResult, ChapterCoverage, ExchangeEvent, Failure, Report } from "../report.js";
import { jsonOf, sanitizeXml } from "./junit.js";

/** Options of {@link renderHtml}. */
export interface HtmlOptions {
  /** Most events drawn per sequence diagram; the rest are counted (default 200). */
  readonly maxEvents?: number;
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * `value` as text safe in HTML text and in double- or single-quoted attributes (and in SVG
 * inside HTML). Control characters show as `\uXXXX`.
 */
export function escapeHtml(value: unknown): string {
  return sanitizeXml(String(value)).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const h = escapeHtml;

/** `text` cut to `max` characters (by code point), with an ellipsis when cut. */
function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
}

/** `part` of `whole` in whole percent, rounded, but never 100 short of the whole. */
export function percent(part: number, whole: number): number {
  if (whole <= 0) return 0;
  const p = Math.round((part / whole) * 100);
  return p === 100 && part < whole ? 99 : p;
}

/** A duration for people: `850 ms`, `12.3 s`, `2 min 03 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** The short label of an event: `cmd/op i=3`, `error 4401 i=3`, a request line and status. */
export function eventSummary(e: ExchangeEvent): string {
  let label: string;
  const f = e.frame;
  if (f !== null && typeof f === "object" && !Array.isArray(f)) {
    const r = f as Record<string, unknown>;
    const parts: string[] = [];
    if (typeof r.cmd === "string")
      parts.push(typeof r.op === "string" ? `${r.cmd}/${r.op}` : r.cmd);
    else parts.push(Object.keys(r).length === 0 ? "keepalive" : "(no cmd)");
    if (typeof r.code === "number") parts.push(String(r.code));
    if (typeof r.i === "number") parts.push(`i=${r.i}`);
    label = parts.join(" ");
  } else if (f !== undefined) {
    label = jsonOf(f);
  } else label = e.text ?? "";
  if (e.kind === "http")
    label = `${e.text ?? "request"}${e.code !== undefined ? ` → ${e.code}` : ""}`;
  if (e.kind === "close") label = `close${e.code !== undefined ? ` ${e.code}` : ""}`;
  if (e.kind === "connect") label = `connect${e.text !== undefined ? ` ${e.text}` : ""}`;
  if (e.problem !== undefined) label = `⚠ ${label}`;
  return label;
}

/** The full detail of an event: header line, then the frame as pretty JSON and the text. */
function eventDetail(e: ExchangeEvent, max: number): string {
  const head = [`${e.t} ms`, e.conn, e.kind];
  if (e.code !== undefined) head.push(`code ${e.code}`);
  const lines = [head.join("  ")];
  if (e.problem !== undefined) lines.push(`problem: ${e.problem}`);
  if (e.frame !== undefined) lines.push(jsonOf(e.frame, 2));
  if (e.text !== undefined) lines.push(e.text);
  return cut(lines.join("\n"), max);
}

const LANE_W = 180;
const ROW_H = 30;
const HEAD_H = 44;
const TIME_W = 70;
const CHAR_W = 6.7;

/** Whether a frame is an `error` frame (drawn red). */
function isErrorFrame(e: ExchangeEvent): boolean {
  const f = e.frame as { cmd?: unknown } | null | undefined;
  return f !== null && typeof f === "object" && f.cmd === "error";
}

/** An arrow from (x1, y) to (x2, y), with its head at x2. */
function arrowLine(x1: number, x2: number, y: number, dashed = false): string {
  const dir = x2 > x1 ? 1 : -1;
  const tip = x2;
  const base = x2 - dir * 8;
  return (
    `<line x1="${x1}" y1="${y}" x2="${base}" y2="${y}"${dashed ? ' class="dashed"' : ""}/>` +
    `<polygon points="${tip},${y} ${base},${y - 4} ${base},${y + 4}"/>`
  );
}

/**
 * The exchange as a message sequence diagram in SVG: one lane per connection label in order
 * of first use, then the server's; an arrow per frame sent or received, marks for connect and
 * close, a two-way arrow for an HTTP request. Each event has its full detail as a `<title>`
 * and links (`data-ev`) to its entry in the frame list.
 */
export function sequenceDiagram(
  exchange: readonly ExchangeEvent[],
  idPrefix: string,
  maxEvents = 200,
): string {
  const events = exchange.slice(0, maxEvents);
  const hidden = exchange.length - events.length;
  const lanes: string[] = [];
  for (const e of events) if (!lanes.includes(e.conn)) lanes.push(e.conn);
  const laneX = (conn: string) => TIME_W + 40 + lanes.indexOf(conn) * LANE_W;
  const serverX = TIME_W + 40 + lanes.length * LANE_W;
  const width = serverX + 90;
  const bodyH = events.length * ROW_H;
  const height = HEAD_H + bodyH + (hidden > 0 ? ROW_H : 10);
  const out: string[] = [];
  out.push(
    `<svg class="seq" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="message sequence diagram, ${events.length} events">`,
  );
  const lifeline = (x: number, label: string, cls: string) => {
    out.push(
      `<g class="lane ${cls}"><rect x="${x - 40}" y="6" width="80" height="24" rx="4"/>` +
        `<text x="${x}" y="22" text-anchor="middle">${h(cut(label, 11))}</text>` +
        `<line x1="${x}" y1="30" x2="${x}" y2="${HEAD_H + bodyH}"/></g>`,
    );
  };
  for (const conn of lanes) lifeline(laneX(conn), conn, conn === "http" ? "http" : "client");
  lifeline(serverX, "server", "server");
  events.forEach((e, i) => {
    const y = HEAD_H + i * ROW_H + ROW_H / 2 + 4;
    const x = laneX(e.conn);
    const title = `<title>${h(eventDetail(e, 4000))}</title>`;
    const ref = `data-ev="${h(`${idPrefix}-e${i}`)}"`;
    const cls = [e.problem !== undefined ? "problem" : "", isErrorFrame(e) ? "err" : ""]
      .filter(Boolean)
      .join(" ");
    out.push(
      `<text class="time" x="${TIME_W - 4}" y="${y + 4}" text-anchor="end">${h(`${e.t} ms`)}</text>`,
    );
    const span = Math.abs(serverX - x);
    const fit = Math.max(6, Math.floor((span - 16) / CHAR_W));
    let label = eventSummary(e);
    if (e.kind === "http" && e.code !== undefined) {
      // Cut the request line, never the status.
      const status = ` → ${e.code}`;
      label = `${cut(label.slice(0, -status.length), fit - status.length)}${status}`;
    }
    const labelAt = (lx: number, anchor: string, max: number) =>
      `<text class="label" x="${lx}" y="${y - 5}" text-anchor="${anchor}">${h(cut(label, max))}</text>`;
    switch (e.kind) {
      case "send":
      case "recv": {
        const [from, to] = e.kind === "send" ? [x, serverX] : [serverX, x];
        out.push(
          `<g class="arrow ${e.kind}${cls ? ` ${cls}` : ""}" ${ref}>${title}${arrowLine(from, to, y)}${labelAt((x + serverX) / 2, "middle", fit)}</g>`,
        );
        break;
      }
      case "http":
        out.push(
          `<g class="arrow http${cls ? ` ${cls}` : ""}" ${ref}>${title}${arrowLine(x, serverX, y - 2)}${arrowLine(serverX, x, y + 6, true)}${labelAt((x + serverX) / 2, "middle", fit)}</g>`,
        );
        break;
      case "connect":
        out.push(
          `<g class="mark connect${cls ? ` ${cls}` : ""}" ${ref}>${title}<circle cx="${x}" cy="${y}" r="5"/>` +
            `<line x1="${x + 6}" y1="${y}" x2="${serverX}" y2="${y}" class="dotted"/>${labelAt((x + serverX) / 2, "middle", fit)}</g>`,
        );
        break;
      case "close":
        out.push(
          `<g class="mark close${cls ? ` ${cls}` : ""}" ${ref}>${title}` +
            `<path d="M${x - 6} ${y - 6}L${x + 6} ${y + 6}M${x + 6} ${y - 6}L${x - 6} ${y + 6}"/>` +
            `<text class="label" x="${x + 10}" y="${y + 4}" text-anchor="start">${h(cut(label, Math.floor((LANE_W - 20) / CHAR_W)))}</text></g>`,
        );
        break;
      default:
        out.push(
          `<g class="mark note${cls ? ` ${cls}` : ""}" ${ref}>${title}<text class="label" x="${x - 36}" y="${y + 4}" text-anchor="start">${h(cut(label, Math.floor((width - x) / CHAR_W)))}</text></g>`,
        );
    }
  });
  if (hidden > 0) {
    out.push(
      `<text class="more" x="${TIME_W + 40}" y="${HEAD_H + bodyH + ROW_H / 2 + 4}">${h(`… ${hidden} more events, not drawn (all are in the JSON report)`)}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("");
}

/** The colors of the coverage segments, in bar order. */
const SEGMENTS = [
  { key: "passed", label: "passed" },
  { key: "failed", label: "failed" },
  { key: "na", label: "n/a" },
  { key: "notrun", label: "not run" },
  { key: "untested", label: "untested" },
] as const;

/** A chapter's counts by segment; they add up to its total. */
function segmentsOf(c: ChapterCoverage): Record<(typeof SEGMENTS)[number]["key"], number> {
  const untested = c.untested.length;
  const notrun = Math.max(0, c.total - c.passed - c.failed - c.notApplicable - untested);
  return { passed: c.passed, failed: c.failed, na: c.notApplicable, notrun, untested };
}

/** Coverage per chapter as horizontal stacked bars in SVG. */
export function coverageChart(chapters: readonly ChapterCoverage[]): string {
  const labelW = 270;
  const barW = 400;
  const rowH = 24;
  const width = labelW + barW + 120;
  const height = chapters.length * rowH + 8;
  const out = [
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="coverage per chapter">`,
  ];
  chapters.forEach((c, i) => {
    const y = 4 + i * rowH;
    const seg = segmentsOf(c);
    out.push(
      `<g class="chapter-bar"><text class="chapter" x="${labelW - 8}" y="${y + 15}" text-anchor="end"><title>${h(c.chapter)}</title>${h(cut(c.chapter, 38))}</text>`,
    );
    let x = labelW;
    for (const s of SEGMENTS) {
      const n = seg[s.key];
      if (n === 0 || c.total === 0) continue;
      const w = (n / c.total) * barW;
      out.push(
        `<rect class="seg ${s.key}" x="${x.toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 6}"><title>${h(`${c.chapter}: ${s.label} ${n} of ${c.total}`)}</title></rect>`,
      );
      x += w;
    }
    if (c.total === 0)
      out.push(
        `<rect class="seg empty" x="${labelW}" y="${y + 2}" width="${barW}" height="${rowH - 6}"/>`,
      );
    out.push(
      `<text class="count" x="${labelW + barW + 8}" y="${y + 15}">${h(`${c.passed}/${c.total} passed`)}</text></g>`,
    );
  });
  out.push("</svg>");
  return out.join("");
}

/** The order non-passing cases are listed in: what fails the run first. */
function rank(c: CaseResult): number {
  if (c.baseline === "stale") return 0;
  if (c.baseline === "expected-failure") return 5;
  if (c.baseline === "flaky" && (c.grade === "fail" || c.grade === "error")) return 4;
  return { fail: 1, error: 2, warn: 3, "n/a": 6, pass: 7 }[c.grade];
}

/** Whether a case counts as passing in the report (a stale expected failure does not). */
function passing(c: CaseResult): boolean {
  return c.grade === "pass" && c.baseline !== "stale";
}

/** The badge of a grade or a baseline status. */
function badge(text: string, cls: string): string {
  return `<span class="badge ${h(cls)}">${h(text)}</span>`;
}

/** A failure's requirement, message and values. */
function failureBlock(f: Failure): string {
  const rows: string[] = [];
  if (f.expected !== undefined)
    rows.push(`<tr><th>expected</th><td><pre>${h(f.expected)}</pre></td></tr>`);
  if (f.actual !== undefined)
    rows.push(`<tr><th>actual</th><td><pre>${h(f.actual)}</pre></td></tr>`);
  return (
    `<div class="failure"><p class="req"><code>${h(f.requirement)}</code> ${badge(f.level, `level-${f.level}`)} ${h(f.text)}</p>` +
    `<p class="message">${h(f.message)}</p>` +
    (rows.length > 0 ? `<table class="values">${rows.join("")}</table>` : "") +
    "</div>"
  );
}

/** What precedes an event's summary in the frame list (connect and close name themselves). */
const GLYPH: Readonly<Record<ExchangeEvent["kind"], string>> = {
  send: "→ ",
  recv: "← ",
  http: "⇄ ",
  note: "note: ",
  connect: "",
  close: "",
};

/** The full section of one case that did not pass. */
function caseSection(c: CaseResult, index: number, maxEvents: number): string {
  const id = `case-${index}`;
  const parts: string[] = [];
  const badges = [badge(c.grade, `grade-${c.grade}`)];
  if (c.baseline !== undefined) badges.push(badge(c.baseline, `baseline-${c.baseline}`));
  parts.push(
    `<section class="case" id="${id}" data-case="${h(c.name)}"><h3><a href="#${id}">${h(c.name)}</a> ${badges.join(" ")}` +
      ` <span class="dim">${h(formatDuration(c.durationMs))}${c.attempts !== undefined && c.attempts > 1 ? h(`, ${c.attempts} attempts`) : ""}</span></h3>`,
  );
  if (c.baseline === "stale")
    parts.push(
      `<p class="message">Listed as an expected failure but graded ${h(c.grade)}: remove it from the expected failures.</p>`,
    );
  if (c.failure !== undefined) parts.push(failureBlock(c.failure));
  const more = (c.warnings ?? []).filter(
    (w) =>
      c.failure === undefined ||
      w.requirement !== c.failure.requirement ||
      w.message !== c.failure.message,
  );
  if (more.length > 0) {
    parts.push(
      `<h4>${h(c.failure === undefined ? "Warnings" : "Also broken")}</h4>`,
      ...more.map(failureBlock),
    );
  }
  if (c.reason !== undefined)
    parts.push(
      `<p class="reason">${h(`${c.grade === "error" ? "harness error" : "reason"}: ${c.reason}`)}</p>`,
    );
  if (c.requirements.length > 0)
    parts.push(
      `<p class="dim">covers ${c.requirements.map((r) => `<code>${h(r)}</code>`).join(" ")}</p>`,
    );
  if (c.replay !== undefined) {
    parts.push(
      `<p>replay (seed ${h(c.replay.seed)}${c.replay.path !== undefined ? h(`, path ${c.replay.path}`) : ""}):</p><pre class="replay"><code>${h(c.replay.command)}</code></pre>`,
    );
    if (c.replay.traceFile !== undefined)
      parts.push(`<p class="dim">trace: <code>${h(c.replay.traceFile)}</code></p>`);
  }
  const exchange = c.exchange ?? [];
  if (exchange.length > 0) {
    parts.push(`<div class="diagram">${sequenceDiagram(exchange, id, maxEvents)}</div>`);
    const shown = exchange.slice(0, maxEvents);
    parts.push(
      `<details class="frames"><summary>${h(`Frames (${exchange.length} events${exchange.length > shown.length ? `, first ${shown.length} listed` : ""})`)}</summary><ol>`,
      ...shown.map(
        (e, i) =>
          `<li id="${h(`${id}-e${i}`)}" class="ev-${h(e.kind)}"><span class="dim">${h(`${e.t} ms`)}</span> <b>${h(e.conn)}</b> ${h(GLYPH[e.kind])}${h(eventSummary(e))}<pre>${h(eventDetail(e, 20_000))}</pre></li>`,
      ),
      "</ol>",
    );
    if (exchange.length > shown.length)
      parts.push(`<p class="dim">${h(`… ${exchange.length - shown.length} more`)}</p>`);
    parts.push("</details>");
  }
  parts.push("</section>");
  return parts.join("\n");
}

const STYLE = `
:root{--pass:#2e8540;--fail:#c62828;--warn:#d98a00;--na:#8a8f98;--err:#7b1fa2;--notrun:#90caf9;--untested:#e0e0e0;--fg:#1d2129;--dim:#5f6673;--bg:#fff;--line:#d0d4da}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:16px 24px 64px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}h4{margin:10px 0 4px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f5f6f8;border:1px solid var(--line);border-radius:4px;padding:6px 8px;overflow:auto;white-space:pre-wrap;word-break:break-all;margin:4px 0;max-height:420px}
.dim{color:var(--dim);font-weight:normal}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;background:var(--na);vertical-align:middle}
.grade-pass{background:var(--pass)}.grade-fail,.baseline-stale{background:var(--fail)}.grade-warn{background:var(--warn)}.grade-error{background:var(--err)}.grade-n\\/a{background:var(--na)}
.baseline-expected-failure,.baseline-flaky{background:#546e7a}.level-MUST{background:#b71c1c}.level-SHOULD{background:#e65100}.level-MAY,.level-unknown{background:#607d8b}
.status{font-size:16px;padding:8px 12px;border-radius:6px;color:#fff;display:inline-block}.status.exit-0{background:var(--pass)}.status.exit-1{background:var(--fail)}.status.exit-2{background:var(--err)}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}.count-box{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:92px}.count-box b{display:block;font-size:20px}
.count-box.fail b{color:var(--fail)}.count-box.pass b{color:var(--pass)}.count-box.warn b{color:var(--warn)}.count-box.error b{color:var(--err)}.count-box.na b{color:var(--na)}
table.facts{border-collapse:collapse}table.facts th,table.facts td{text-align:left;padding:2px 12px 2px 0;vertical-align:top}table.facts th{color:var(--dim);font-weight:normal}
table.values{border-collapse:collapse;width:100%}table.values th{width:80px;text-align:left;vertical-align:top;color:var(--dim);font-weight:normal;padding-top:8px}
.case{border:1px solid var(--line);border-left:4px solid var(--na);border-radius:4px;padding:10px 14px;margin:12px 0}
.case:has(.grade-fail),.case:has(.baseline-stale){border-left-color:var(--fail)}.case:has(.grade-warn){border-left-color:var(--warn)}.case:has(.grade-error){border-left-color:var(--err)}
.case:has(.baseline-expected-failure),.case:has(.baseline-flaky){border-left-color:#546e7a}
.case h3 a{color:inherit;text-decoration:none}.req code{font-weight:600}.message{font-weight:600;margin:4px 0}
.diagram{overflow-x:auto;margin:8px 0;border:1px solid var(--line);border-radius:4px;background:#fcfcfd}
svg text{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:var(--fg)}
svg.seq .lane rect{fill:#eef1f5;stroke:#9aa3ae}svg.seq .lane.server rect{fill:#e3ecfa}svg.seq .lane line{stroke:#9aa3ae;stroke-dasharray:4 3}
svg.seq .arrow line,svg.seq .mark line{stroke-width:1.5}svg.seq .arrow.send line{stroke:#1565c0}svg.seq .arrow.send polygon{fill:#1565c0}
svg.seq .arrow.recv line{stroke:#2e7d32}svg.seq .arrow.recv polygon{fill:#2e7d32}svg.seq .arrow.http line{stroke:#6a1b9a}svg.seq .arrow.http polygon{fill:#6a1b9a}
svg.seq .arrow.err line{stroke:var(--fail)}svg.seq .arrow.err polygon{fill:var(--fail)}svg.seq .problem line{stroke-dasharray:5 2}
svg.seq .problem:not(.err) line{stroke:var(--warn)}svg.seq .problem:not(.err) polygon{fill:var(--warn)}svg.seq .problem .label{fill:#8a4b00}
svg.seq line.dashed{stroke-dasharray:4 2}svg.seq line.dotted{stroke:#9aa3ae;stroke-dasharray:1 3}
svg.seq .connect circle{fill:#2e7d32}svg.seq .close path{stroke:var(--fail);stroke-width:2.5}
svg.seq .label{paint-order:stroke;stroke:#fcfcfd;stroke-width:3px}svg.seq .time,svg.seq .more{fill:var(--dim)}svg.seq .note text{font-style:italic;fill:var(--dim)}
svg.seq [data-ev]{cursor:pointer}svg.seq [data-ev]:hover line{stroke-width:3}
.frames li{margin:2px 0}.frames li.hl pre{outline:2px solid var(--warn)}
svg.chart .seg.passed{fill:var(--pass)}svg.chart .seg.failed{fill:var(--fail)}svg.chart .seg.na{fill:var(--na)}svg.chart .seg.notrun{fill:var(--notrun)}svg.chart .seg.untested,svg.chart .seg.empty{fill:var(--untested)}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.legend .passed{background:var(--pass)}.legend .failed{background:var(--fail)}.legend .na{background:var(--na)}.legend .notrun{background:var(--notrun)}.legend .untested{background:var(--untested)}
.toolbar{display:flex;gap:8px;align-items:center;margin:8px 0}.toolbar input{flex:1;max-width:360px;padding:4px 8px}
table.list{border-collapse:collapse;width:100%}table.list td,table.list th{border-bottom:1px solid var(--line);padding:3px 8px 3px 0;text-align:left;vertical-align:top}
details>summary{cursor:pointer}.untested code{display:inline-block;margin:0 6px 2px 0}
`;

const SCRIPT = `(function(){
var q=document.getElementById("filter");
if(q){q.addEventListener("input",function(){var v=q.value.toLowerCase();document.querySelectorAll("[data-case]").forEach(function(el){el.hidden=v!==""&&el.getAttribute("data-case").toLowerCase().indexOf(v)<0;});});}
document.querySelectorAll("button[data-toggle]").forEach(function(b){b.addEventListener("click",function(){var open=b.getAttribute("data-toggle")==="open";document.querySelectorAll("details.frames").forEach(function(d){d.open=open;});});});
document.querySelectorAll("svg.seq [data-ev]").forEach(function(g){g.addEventListener("click",function(){var li=document.getElementById(g.getAttribute("data-ev"));if(!li)return;var d=li.closest("details");if(d)d.open=true;li.scrollIntoView({block:"center"});li.classList.add("hl");setTimeout(function(){li.classList.remove("hl");},1500);});});
})();`;

/** The CSP source of an inline style or script: its SHA-256, base64. */
function hashSource(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** The report as one self-contained HTML page. */
export function renderHtml(report: Report, options: HtmlOptions = {}): string {
  const maxEvents = Math.max(1, options.maxEvents ?? 200);
  const s = report.summary;
  const covered = report.chapters.reduce((n, c) => n + c.covered, 0);
  const total = report.chapters.reduce((n, c) => n + c.total, 0);
  const pct = percent(covered, total);
  const verdict = { 0: "passed", 1: "failed", 2: "incomplete (harness error)" }[report.exitCode];
  const csp = `default-src 'none'; style-src ${hashSource(STYLE)}; script-src ${hashSource(SCRIPT)}; base-uri 'none'; form-action 'none'`;

  const out: string[] = [];
  out.push(
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${h(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(`Confab conformance: ${verdict}, ${s.fail} failed, ${s.error} errors — ${report.target.url}`)}</title>`,
    `<style>${STYLE}</style>`,
    "</head><body>",
    `<h1>Confab conformance report</h1>`,
    `<p><span class="status exit-${report.exitCode}">${h(`${verdict} (exit code ${report.exitCode})`)}</span></p>`,
  );

  // Summary.
  const box = (cls: string, n: number, label: string) =>
    `<div class="count-box ${cls}"><b>${n}</b>${h(label)}</div>`;
  out.push(
    '<h2 id="summary">Summary</h2><div class="counts">',
    box("total", s.total, "cases"),
    box("pass", s.pass, "passed"),
    box("fail", s.fail, "failed"),
    box("warn", s.warn, "warned"),
    box("na", s.notApplicable, "n/a"),
    box("error", s.error, "errors"),
    box("expected", s.expectedFailures, "expected failures"),
    box("fail", s.stale, "stale"),
    box("flaky", s.flaky, "flaky"),
    "</div>",
  );
  const facts: [string, string][] = [
    ["target", report.target.url],
    ["http", report.target.httpUrl],
    ["target kind", report.target.kind],
    ["seed", String(report.seed)],
    ["profile", report.profile],
    ["duration", formatDuration(report.durationMs)],
    ["started", report.startedAt],
    ["exit code", String(report.exitCode)],
    ["spec revision", report.specRevision],
    ["kit", `${report.kit.name} ${report.kit.version}`],
  ];
  if (report.shard !== undefined)
    facts.push(["shard", `${report.shard.index} of ${report.shard.total}`]);
  if (report.merged !== undefined) facts.push(["merged", `${report.merged} shards`]);
  const features = Object.entries(report.target.features)
    .map(([k, v]) => `${k}${v ? "" : " (off)"}`)
    .join(", ");
  facts.push(["features", `${features || "none"} (from ${report.target.featureSource})`]);
  out.push(
    `<table class="facts">${facts.map(([k, v]) => `<tr><th>${h(k)}</th><td>${h(v)}</td></tr>`).join("")}</table>`,
  );
  if (report.target.serverInfo !== undefined)
    out.push(
      `<details><summary>Server announcement</summary><pre>${h(cut(jsonOf(report.target.serverInfo, 2), 20_000))}</pre></details>`,
    );

  // Coverage.
  out.push(
    '<h2 id="coverage">Coverage</h2>',
    `<p>${h(`coverage: ${covered}/${total} server requirements (${pct}%)`)}</p>`,
    `<p class="legend">${SEGMENTS.map((g) => `<span><i class="${g.key}"></i>${h(g.label)}</span>`).join("")}</p>`,
    `<div class="diagram">${coverageChart(report.chapters)}</div>`,
  );
  const untested = report.chapters.filter((c) => c.untested.length > 0);
  const reasons = new Map(
    report.coverage.flatMap((r) => (r.reason === undefined ? [] : [[r.id, r.reason] as const])),
  );
  if (untested.length > 0) {
    out.push(
      `<h3>Untested requirements (${untested.reduce((n, c) => n + c.untested.length, 0)})</h3>`,
      ...untested.map(
        (c) =>
          `<details class="untested"><summary>${h(`${c.chapter}: ${c.untested.length}`)}</summary><ul>${c.untested.map((id) => `<li><code>${h(id)}</code> ${h(reasons.get(id) ?? "no case yet")}</li>`).join("")}</ul></details>`,
      ),
    );
  } else out.push("<p>Every server requirement is named by a case.</p>");

  // Cases that did not pass.
  const indexed = report.cases.map((c, i) => ({ c, i }));
  const shown = indexed
    .filter(({ c }) => !passing(c) && c.grade !== "n/a")
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i);
  const na = indexed.filter(({ c }) => c.grade === "n/a" && c.baseline !== "stale");
  const passed = indexed.filter(({ c }) => passing(c));
  out.push(
    `<h2 id="cases">Cases that did not pass (${shown.length})</h2>`,
    '<div class="toolbar"><input id="filter" type="search" placeholder="filter cases by name" aria-label="filter cases by name">' +
      '<button type="button" data-toggle="open">expand frames</button><button type="button" data-toggle="close">collapse frames</button></div>',
  );
  if (shown.length === 0) out.push("<p>None.</p>");
  for (const { c, i } of shown) out.push(caseSection(c, i, maxEvents));

  out.push(`<h2 id="na">Not applicable (${na.length})</h2>`);
  if (na.length > 0)
    out.push(
      '<table class="list"><tr><th>case</th><th>reason</th><th>requirements</th></tr>',
      ...na.map(
        ({ c }) =>
          `<tr data-case="${h(c.name)}"><td>${h(c.name)}</td><td>${h(c.reason ?? "")}</td><td>${c.requirements.map((r) => `<code>${h(r)}</code>`).join(" ")}</td></tr>`,
      ),
      "</table>",
    );

  out.push(
    `<h2 id="passed">Passed (${passed.length})</h2>`,
    `<details class="passed"><summary>${h(`${passed.length} passing case${passed.length === 1 ? "" : "s"}`)}</summary><table class="list">`,
    ...passed.map(
      ({ c }) =>
        `<tr data-case="${h(c.name)}"><td>${h(c.name)}</td><td class="dim">${h(formatDuration(c.durationMs))}${c.baseline === "flaky" ? ` ${badge("flaky", "baseline-flaky")}` : ""}</td><td>${c.requirements.map((r) => `<code>${h(r)}</code>`).join(" ")}</td></tr>`,
    ),
    "</table></details>",
    `<script>${SCRIPT}</script>`,
    "</body></html>",
    "",
  );
  return out.join("\n");
}
