/**
 * The benchmark's outputs besides the JSON: the Markdown table and two SVG plots drawn by
 * hand (W3's latency percentiles, W2's throughput against the offered rate with the knee).
 * @module
 */
import { verdictsMarkdown } from "./verdicts.mjs";

/**
 * @typedef {{ workload: string, metric: string, value: number, unit: string,
 *   baseline: string | null, ratio: number | null, baselineMetric?: string,
 *   better?: "higher" | "lower", note?: string }} Row
 */

/**
 * JSON as the repository's formatter (Biome) writes it, so that a committed result passes
 * `biome check`: objects one member a line, arrays on one line when they hold no object
 * and fit in 100 columns, otherwise one item a line.
 * @param {unknown} value
 */
export function formatJson(value) {
  /** @param {unknown} v @param {string} indent @param {number} used columns before it */
  const fmt = (v, indent, used) => {
    if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      const flat = v.every((x) => x === null || typeof x !== "object");
      if (flat) {
        const line = `[${v.map((x) => JSON.stringify(x) ?? "null").join(", ")}]`;
        if (used + line.length + 1 <= 100) return line;
      }
      return `[\n${v.map((x) => `${inner}${fmt(x, inner, inner.length)}`).join(",\n")}\n${indent}]`;
    }
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return "{}";
    const body = entries.map(([k, x]) => {
      const head = `${inner}${JSON.stringify(k)}: `;
      return `${head}${fmt(x, inner, head.length)}`;
    });
    return `{\n${body.join(",\n")}\n${indent}}`;
  };
  return `${fmt(value, "", 0)}\n`;
}

/** A number for a table: 3 significant digits, thousands kept whole. @param {number | null | undefined} v */
export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/**
 * The Markdown report: the results table, the verdicts on the issue's targets, then the
 * machine and the run's settings.
 * @param {{ rows: Row[], machine: Record<string, unknown>, run: Record<string, any>,
 *   targets?: import("./verdicts.mjs").Verdict[] }} results
 */
export function markdown(results) {
  const { rows, machine, run } = results;
  const byKey = new Map(rows.map((r) => [`${r.workload}\u0000${r.metric}`, r]));
  const lines = [
    `# Confab benchmarks: ${run.profile} profile, ${run.date}`,
    "",
    "Ratio = value ÷ the baseline's value for the same metric on the same machine in the same run;",
    "`better` says which way is good. Baselines: B0 bare `ws` relay, B1 B0 + SQLite group commit,",
    "BF bare fan-out (bench/README.md).",
    "",
    "| Workload | Metric | Value | Unit | Baseline | Baseline value | Ratio | Better | Note |",
    "| --- | --- | ---: | --- | --- | ---: | ---: | --- | --- |",
  ];
  for (const r of rows) {
    const base = r.baseline
      ? byKey.get(`${r.baseline}\u0000${r.baselineMetric ?? r.metric}`)
      : undefined;
    const baseName = r.baseline
      ? r.baselineMetric
        ? `${r.baseline} (${r.baselineMetric})`
        : r.baseline
      : "";
    lines.push(
      `| ${r.workload} | ${r.metric} | ${fmt(r.value)} | ${r.unit} | ${baseName} | ${base ? fmt(base.value) : ""} | ${r.ratio === null ? "" : `${r.ratio.toFixed(2)}×`} | ${r.better ?? ""} | ${r.note ?? ""} |`,
    );
  }
  if (results.targets?.length) lines.push("", verdictsMarkdown(results.targets).trimEnd());
  lines.push(
    "",
    "## Machine and run",
    "",
    `- ${machine.cpus} × ${machine.cpuModel}, ${machine.memTotalMb} MB, ${machine.platform}, kernel ${machine.kernel}, Node ${machine.node}`,
    `- pinning: ${run.pinning.available ? run.pinning.reason : `none (${run.pinning.reason})`}; niceness of the servers and the generator: ${run.nice ?? 0}; node flags of every server: ${run.serverNodeFlags?.length ? run.serverNodeFlags.join(" ") : "none"}`,
    `- load average at start ${run.loadavg.start.join(" ")}, at end ${run.loadavg.end.join(" ")}; measurements taken while other processes used more than ${run.disturbedAbove} cores were repeated (up to ${run.retries} times), and are marked when they stayed disturbed`,
    `- reference server: \`${run.server}\`, built from ${run.source.commit}${run.source.uncommittedServerFiles ? ` plus ${run.source.uncommittedServerFiles} uncommitted source files` : ""}, with \`--dev\` and \`--config\` ${JSON.stringify(run.referenceConfig)}`,
    ...run.referenceConfigWhy.map((/** @type {string} */ w) => `  - ${w}`),
    `- duration ${Math.round(run.durationS)} s`,
  );
  if (run.w2Steps?.length) {
    lines.push(
      "",
      "## W2 steps (reference server)",
      "",
      "| Offered msg/s | Delivered msg/s | Server cores | msg per server CPU-s | send→ack p99 ms | Sustained | Note |",
      "| ---: | ---: | ---: | ---: | ---: | --- | --- |",
    );
    for (const s of run.w2Steps) {
      lines.push(
        `| ${fmt(s.rate)} | ${fmt(s.deliveredPerS)} | ${s.serverCores.toFixed(2)} | ${fmt(s.msgsPerCpuS)} | ${fmt(s.ack.p99)} | ${s.sustained ? "yes" : "no"} | ${s.note ?? ""} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Escapes text for SVG. @param {string} s */
const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

/**
 * A line chart as SVG text.
 * @param {{ title: string, xLabel: string, yLabel: string, series: { name: string,
 *   points: [number, number][], dash?: boolean, markers?: boolean }[], xTicks: { at: number, label: string }[],
 *   yLog?: boolean, xMax?: number, vlines?: { at: number, label: string }[] }} chart
 */
export function lineChart(chart) {
  const W = 760;
  const H = 440;
  const m = { l: 70, r: 20, t: 40, b: 90 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = chart.series.flatMap((s) => s.points);
  const xs = [...all.map((p) => p[0]), ...chart.xTicks.map((t) => t.at)];
  const xMin = Math.min(...xs);
  const xMax = chart.xMax ?? Math.max(...xs);
  const ysRaw = all.map((p) => p[1]).filter((y) => Number.isFinite(y) && (!chart.yLog || y > 0));
  let yMin = chart.yLog ? Math.min(...ysRaw) : 0;
  let yMax = Math.max(...ysRaw);
  if (chart.yLog) {
    yMin = 10 ** Math.floor(Math.log10(yMin || 0.01));
    yMax = 10 ** Math.ceil(Math.log10(yMax || 1));
  } else yMax = niceCeil(yMax);
  const X = (/** @type {number} */ x) => m.l + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const Y = (/** @type {number} */ y) =>
    chart.yLog
      ? m.t +
        ph -
        ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) /
          (Math.log10(yMax) - Math.log10(yMin) || 1)) *
          ph
      : m.t + ph - (y / (yMax || 1)) * ph;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(chart.title)}">`,
    `<title>${esc(chart.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(chart.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  ];
  // y grid
  /** @type {number[]} */
  const yTicks = [];
  if (chart.yLog) for (let v = yMin; v <= yMax * 1.0001; v *= 10) yTicks.push(v);
  else for (let k = 0; k <= 5; k++) yTicks.push((yMax * k) / 5);
  for (const v of yTicks) {
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${esc(tick(v))}</text>`,
    );
  }
  for (const t of chart.xTicks) {
    out.push(
      `<line x1="${X(t.at).toFixed(1)}" x2="${X(t.at).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/>`,
      `<text x="${X(t.at).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="${t.at >= xMax ? "end" : "middle"}">${esc(t.label)}</text>`,
    );
  }
  out.push(
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  for (const v of chart.vlines ?? []) {
    out.push(
      `<line x1="${X(v.at).toFixed(1)}" x2="${X(v.at).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#000" stroke-dasharray="6 4"/>`,
      `<text x="${(X(v.at) + 4).toFixed(1)}" y="${m.t + 14}">${esc(v.label)}</text>`,
    );
  }
  chart.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (!chart.yLog || p[1] > 0));
    if (pts.length > 1) {
      const d = pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${s.dash ? ' stroke-dasharray="4 3"' : ""} points="${d}"/>`,
      );
    }
    if (s.markers || pts.length === 1) {
      for (const p of pts) {
        out.push(
          `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3.5" fill="${color}"/>`,
        );
      }
    }
    const lx = m.l + (k % 3) * 240;
    const ly = H - 30 + Math.floor(k / 3) * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dash ? ' stroke-dasharray="4 3"' : ""}/>`,
      `<text x="${lx + 30}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** @param {number} v */
export function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

/** @param {number} v */
function tick(v) {
  if (v >= 1000) return `${+(v / 1000).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

/**
 * W3's latency distribution: latency (ms, log scale) against the percentile, on a "nines"
 * axis (0 = p0, 1 = p90, 2 = p99, 3 = p99.9, …).
 * @param {{ name: string, curve: [number, number][] }[]} curves
 * @param {string} title
 */
export function latencySvg(curves, title) {
  const maxX = Math.max(3, ...curves.flatMap((c) => c.curve.map((p) => p[0])));
  const labels = ["p0", "p90", "p99", "p99.9", "p99.99", "p99.999"];
  return lineChart({
    title,
    xLabel: "percentile (from the planned send time: coordinated omission corrected)",
    yLabel: "latency, ms (log)",
    yLog: true,
    xMax: Math.ceil(maxX),
    xTicks: labels.slice(0, Math.ceil(maxX) + 1).map((label, at) => ({ at, label })),
    series: curves.map((c, k) => ({ name: c.name, points: c.curve, dash: k >= 2 })),
  });
}

/**
 * W2's throughput against the offered rate, with the knee marked and the baselines' points.
 * @param {{ rate: number, deliveredPerS: number }[]} steps
 * @param {number | null} knee
 * @param {{ name: string, points: [number, number][] }[]} extra
 */
export function throughputSvg(steps, knee, extra) {
  const maxRate = Math.max(
    ...steps.map((s) => s.rate),
    ...extra.flatMap((e) => e.points.map((p) => p[0])),
  );
  const xMax = niceCeil(maxRate);
  /** @type {{ at: number, label: string }[]} */
  const xTicks = [];
  for (let k = 0; k <= 5; k++) xTicks.push({ at: (xMax * k) / 5, label: tick((xMax * k) / 5) });
  return lineChart({
    title: "W2: delivered direct messages per second against the offered rate",
    xLabel: "offered rate, msg/s (open loop)",
    yLabel: "delivered, msg/s",
    xMax,
    xTicks,
    series: [
      {
        name: "reference server",
        points: steps.map((s) => [s.rate, s.deliveredPerS]),
        markers: true,
      },
      {
        name: "offered (y = x)",
        points: [
          [0, 0],
          [xMax, xMax],
        ],
        dash: true,
      },
      ...extra.map((e) => ({ ...e, markers: true })),
    ],
    vlines: knee === null ? [] : [{ at: knee, label: `knee ${Math.round(knee)} msg/s` }],
  });
}
