#!/usr/bin/env node
// Prints the summary of a vitest JSON report:
//
//   node scripts/test-summary.mjs [report]   (default: test-results/vitest.json)
//
// Failed tests (and test files that failed outside any test) are listed first, at most 10,
// each with the first line of its failure. The last line printed is exactly
// `N passed, N failed`, followed by `, N skipped` when any test was skipped or marked todo.
// Exits 1 (saying why) when the report is missing or unparsable; otherwise exits 0 whatever
// the tests did: the caller owns the exit status of the test run.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

const reportPath = process.argv[2] ?? "test-results/vitest.json";

function fail(message) {
  console.error(`test-summary: ${message}`);
  process.exit(1);
}

let text;
try {
  text = readFileSync(reportPath, "utf8");
} catch (error) {
  fail(
    error.code === "ENOENT"
      ? `no test report at ${reportPath} (did the test run start?)`
      : `cannot read ${reportPath}: ${error.message}`,
  );
}

let report;
try {
  report = JSON.parse(text);
} catch (error) {
  fail(`${reportPath} is not valid JSON: ${error.message}`);
}
if (report === null || typeof report !== "object" || Array.isArray(report)) {
  fail(`${reportPath} is not a vitest JSON report (expected an object)`);
}

function count(field, required) {
  const value = report[field];
  if (value === undefined && !required) return 0;
  if (!Number.isInteger(value) || value < 0) {
    fail(`${reportPath} is not a vitest JSON report (${field} is ${JSON.stringify(value)})`);
  }
  return value;
}

const passed = count("numPassedTests", true);
const failed = count("numFailedTests", true);
const skipped = count("numPendingTests", false) + count("numTodoTests", false);

// Names what failed, on stdout just above the summary line: CI keeps only the tail of a run's
// output, and a count without names cannot be traced to a flaky test afterwards.
const MAX_LISTED = 10;
const failures = [];
for (const file of Array.isArray(report.testResults) ? report.testResults : []) {
  const where = typeof file?.name === "string" ? relative(process.cwd(), file.name) : "?";
  const tests = Array.isArray(file?.assertionResults) ? file.assertionResults : [];
  for (const test of tests) {
    if (test?.status !== "failed") continue;
    const messages = Array.isArray(test.failureMessages) ? test.failureMessages : [];
    failures.push(`${where} > ${test.fullName ?? test.title ?? "?"}: ${firstLine(messages[0])}`);
  }
  if (file?.status === "failed" && !tests.some((test) => test?.status === "failed")) {
    failures.push(`${where}: ${firstLine(file.message)}`);
  }
}
if (failures.length > 0) {
  console.log(`failed (${failures.length}):`);
  for (const line of failures.slice(0, MAX_LISTED)) console.log(`  ${line}`);
  if (failures.length > MAX_LISTED) console.log(`  ... and ${failures.length - MAX_LISTED} more`);
}

/** The first non-empty line of a failure message, cut to 300 characters. */
function firstLine(message) {
  if (typeof message !== "string") return "(no message)";
  const line =
    message
      .split("\n")
      .find((part) => part.trim() !== "")
      ?.trim() ?? "(no message)";
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

// A test file that fails to load (syntax error, failing import, failing hook) fails no test, so
// say so on stderr; the summary line itself stays in the fixed format.
const failedFiles = count("numFailedTestSuites", false);
if (failedFiles > 0 && failed === 0) {
  console.error(`test-summary: ${failedFiles} test file(s) failed outside any test`);
}

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
