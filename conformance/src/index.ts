/**
 * `@confab/conformance`: the Confab conformance kit as a library. {@link runServerConformance}
 * runs the cases against a server and returns the report; the reporters render it; the
 * cases and the context they run in are exported for projects that add their own.
 *
 * @example
 * import { runServerConformance } from "@confab/conformance";
 * const report = await runServerConformance({ url: "ws://127.0.0.1:8080/", apps: { open: "my-app" } });
 * process.exitCode = report.exitCode;
 * @module
 */
export * from "./case.js";
export { ALL_CASES } from "./cases/index.js";
export * from "./connection.js";
export * from "./context.js";
export * from "./errors.js";
export * from "./ports.js";
export * from "./push-receiver.js";
export * from "./report.js";
export * from "./requirements.js";
export * from "./runner.js";
export * from "./target.js";
export * from "./untested.js";
