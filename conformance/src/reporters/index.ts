/**
 * The reporters of a conformance run: JSON (the report file, read back by `merge`), JUnit XML
 * (for CI test views), HTML (one file for a person after a red run) and the terminal.
 * @module
 */
export {
  coverageChart,
  escapeHtml,
  eventSummary,
  type HtmlOptions,
  renderHtml,
  sequenceDiagram,
} from "./html.js";
export { readReport, renderJson } from "./json.js";
export {
  escapeXmlAttr,
  escapeXmlText,
  type JunitOptions,
  renderJunit,
  sanitizeXml,
} from "./junit.js";
export { createTtyReporter, summaryText, type TtyOptions, type TtyReporter } from "./tty.js";
