#!/usr/bin/env node
// Extracts the requirements of the Confab specification into spec/requirements.json.
//
//   node spec/tools/index-requirements.mjs           writes spec/requirements.json
//   node spec/tools/index-requirements.mjs --check   writes nothing; exits 1 when the
//                                                    index is stale or the chapters break
//                                                    a rule below
//
// Rules (spec/README.md, "Requirement IDs"):
// - A requirement is a Markdown block (list item, paragraph or table row) that starts with
//   an ID in square brackets: `- [DIRECT-ACK-1] A server MUST ...`.
// - The ID matches /^[A-Z][A-Z0-9]*(-[A-Z][A-Z0-9]*)*-[0-9]+$/, its first part is a known
//   area, and it is unique across all chapters.
// - A block that contains a BCP 14 keyword in capitals carries exactly one ID; a block that
//   carries an ID contains exactly one sentence with a keyword.
// - The subject of the keyword sentence (the words between the last comma, semicolon or
//   colon and the first keyword) names the party it binds: "server"/"router" → server,
//   "client" → client, "endpoint"/"receiver"/"both" → both, "signing service" → signer.
// Only files named spec/NN-*.md are read; code spans and fenced code blocks are ignored.
//
// Plain Node ESM, no dependencies.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The shape every requirement ID has. */
export const ID_PATTERN = /^[A-Z][A-Z0-9]*(-[A-Z][A-Z0-9]*)*-[0-9]+$/;

/** The areas an ID may start with (spec/README.md). */
export const AREAS = Object.freeze([
  "ROUTER",
  "FRAME",
  "SERIAL",
  "KEEPALIVE",
  "TIMEOUT",
  "FLOOD",
  "SESSION",
  "WATCH",
  "PRESENCE",
  "SUPERPEER",
  "DIRECT",
  "ACK",
  "TRANSIENT",
  "ECHO",
  "OFFLINE",
  "RECEIPT",
  "ROOM",
  "LOGS",
  "REST",
  "CONVID",
  "SIG",
  "LIMIT",
  "ERROR",
  "VERSION",
]);

/** BCP 14 keywords, longest first so that "MUST NOT" wins over "MUST". */
const KEYWORDS = [
  ["NOT RECOMMENDED", "SHOULD"],
  ["MUST NOT", "MUST"],
  ["SHALL NOT", "MUST"],
  ["SHOULD NOT", "SHOULD"],
  ["REQUIRED", "MUST"],
  ["MUST", "MUST"],
  ["SHALL", "MUST"],
  ["RECOMMENDED", "SHOULD"],
  ["SHOULD", "SHOULD"],
  ["OPTIONAL", "MAY"],
  ["MAY", "MAY"],
];
const KEYWORD_RE = new RegExp(
  `(?<![A-Za-z0-9_])(${KEYWORDS.map(([k]) => k.replace(" ", "\\s+")).join("|")})(?![A-Za-z0-9_])`,
  "g",
);
const STRENGTH = { MUST: 3, SHOULD: 2, MAY: 1 };

/** Role words that tell whom a requirement binds; the first match in the subject wins. */
const ROLE_RE =
  /\b(?:(servers?\s+and\s+(?:the\s+|a\s+)?clients?|clients?\s+and\s+(?:the\s+|a\s+)?servers?|endpoints?|receivers?|both)|(servers?|router)|(clients?))\b/i;

/** A bracketed token at the start of a block that looks like an attempt at an ID. */
const LEADING_ID_RE = /^\[([A-Za-z0-9][A-Za-z0-9_.-]*)\](?!\()\s*/;
/** Any bracketed upper-case token that is not a link: a further ID in the block. */
const ANY_ID_RE = /\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\](?!\()/g;

const here = dirname(fileURLToPath(import.meta.url));
/** The spec directory this tool lives in. */
export const SPEC_DIR = resolve(here, "..");
/** The repository root (paths in the index are relative to it). */
export const REPO_DIR = resolve(SPEC_DIR, "..");
/** The index file. */
export const INDEX_FILE = join(SPEC_DIR, "requirements.json");

/** Removes code spans (`...`, ``...``) so that their content is never read as prose. */
function stripCode(text) {
  return text.replace(/(`+)[\s\S]*?\1/g, "CODE");
}

/**
 * Replaces references to requirement IDs (`SESSION-REQUIRED-1`, `[ACK-ID-1]`) with a
 * neutral word, so that an ID such as SESSION-REQUIRED-1 is not read as the keyword
 * REQUIRED.
 */
function stripRefs(text) {
  return text.replace(/\[?\b[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-[0-9]+\b\]?/g, "REF");
}

/** Prose as the keyword scanner reads it: no code spans, no ID references. */
function proseOf(text) {
  return stripRefs(stripCode(text));
}

/** Splits prose into sentences, keeping common abbreviations intact. */
export function sentences(text) {
  const masked = text.replace(/\b(e\.g|i\.e|etc|cf|vs)\./g, (m) => m.replace(/\./g, "\uE000"));
  return masked
    .split(/(?<=[.!?])\s+(?=[A-Z[(])/)
    .map((s) => s.replace(/\uE000/g, ".").trim())
    .filter((s) => s.length > 0);
}

/** The BCP 14 keywords of a piece of prose (code spans already removed), in order. */
function keywordsOf(prose) {
  return [...prose.matchAll(KEYWORD_RE)].map((m) => ({
    keyword: m[1].replace(/\s+/g, " "),
    index: m.index,
  }));
}

/** The strongest level among keywords. */
function levelOf(found) {
  let best = "MAY";
  for (const { keyword } of found) {
    const level = KEYWORDS.find(([k]) => k === keyword)[1];
    if (STRENGTH[level] > STRENGTH[best]) best = level;
  }
  return best;
}

/**
 * Whom a requirement binds, read from the subject of its keyword sentence: the words
 * between the last `,` `;` or `:` and the first keyword. Returns undefined when unclear.
 */
export function targetOf(sentence) {
  const prose = proseOf(sentence);
  const first = keywordsOf(prose)[0];
  if (!first) return undefined;
  const before = prose.slice(0, first.index);
  const clause = before.split(/[,;:]/).pop() ?? "";
  // An app's signing service is a third party: neither the client that sends the
  // signature nor the server that checks it (SIG-NONCE-1, SIG-SP-3).
  if (/\bsigning services?\b/i.test(clause)) return "signer";
  const m = ROLE_RE.exec(clause);
  if (!m) return undefined;
  if (m[1]) return "both";
  if (m[2]) return "server";
  return "client";
}

/**
 * Splits a chapter into blocks: list items, paragraphs, table rows and headings, each with
 * the line it starts on. Fenced code blocks are skipped.
 */
export function blocksOf(markdown) {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  let current;
  let fence;
  const flush = () => {
    if (current) blocks.push(current);
    current = undefined;
  };
  lines.forEach((raw, index) => {
    const line = index + 1;
    const fenceMatch = /^\s*(```+|~~~+)/.exec(raw);
    if (fence) {
      if (fenceMatch && fenceMatch[1][0] === fence[0] && fenceMatch[1].length >= fence.length)
        fence = undefined;
      return;
    }
    if (fenceMatch) {
      flush();
      fence = fenceMatch[1];
      return;
    }
    const text = raw.replace(/^\s*>\s?/, "");
    if (text.trim() === "") {
      flush();
      return;
    }
    if (/^\s*#{1,6}\s/.test(text)) {
      flush();
      blocks.push({ kind: "heading", line, text: text.replace(/^\s*#{1,6}\s+/, "").trim() });
      return;
    }
    if (/^\s*\|/.test(text)) {
      flush();
      if (/^\s*\|[\s:|-]+\|?\s*$/.test(text)) return; // delimiter row
      blocks.push({ kind: "row", line, text: text.trim() });
      return;
    }
    const item = /^\s*(?:[-*+]|\d+[.)])\s+(.*)$/.exec(text);
    if (item) {
      flush();
      current = { kind: "item", line, text: item[1].trim() };
      return;
    }
    if (current) current.text += ` ${text.trim()}`;
    else current = { kind: "paragraph", line, text: text.trim() };
  });
  flush();
  return blocks;
}

/**
 * Extracts the requirements of one chapter.
 * @param {string} markdown the chapter text
 * @param {string} file the chapter's path, relative to the repository root
 * @returns {{requirements: object[], errors: string[]}}
 */
export function parseChapter(markdown, file) {
  const requirements = [];
  const errors = [];
  const blocks = blocksOf(markdown);
  const title = blocks.find((b) => b.kind === "heading")?.text ?? file;
  for (const block of blocks) {
    const where = `${file}:${block.line}`;
    let text = block.text;
    if (block.kind === "row") text = text.replace(/^\|\s*/, "");
    const lead = LEADING_ID_RE.exec(text);
    const leadLooksLikeId = lead && /^[A-Z]/.test(lead[1]) && /-/.test(lead[1]);
    const body = leadLooksLikeId ? text.slice(lead[0].length) : text;
    const prose = proseOf(body);
    const found = keywordsOf(prose);
    const furtherIds = [...stripCode(body).matchAll(ANY_ID_RE)].map((m) => m[1]);

    if (!leadLooksLikeId) {
      if (found.length > 0) {
        errors.push(
          `${where}: normative keyword ${found[0].keyword} in a ${block.kind} without a requirement ID: "${excerpt(text)}"`,
        );
      }
      if (furtherIds.length > 0) {
        errors.push(`${where}: requirement ID [${furtherIds[0]}] is not at the start of its block`);
      }
      continue;
    }
    const id = lead[1];
    if (block.kind === "heading") {
      errors.push(`${where}: requirement ID [${id}] in a heading`);
      continue;
    }
    if (!ID_PATTERN.test(id)) {
      errors.push(
        `${where}: malformed requirement ID [${id}] (expected AREA-TOPIC-N matching ${ID_PATTERN})`,
      );
      continue;
    }
    const area = id.split("-")[0];
    if (!AREAS.includes(area)) {
      errors.push(`${where}: [${id}] has unknown area ${area} (known: ${AREAS.join(", ")})`);
      continue;
    }
    if (furtherIds.length > 0) {
      errors.push(
        `${where}: [${id}] is followed by a second ID [${furtherIds[0]}]; one requirement per block`,
      );
      continue;
    }
    if (found.length === 0) {
      errors.push(`${where}: [${id}] has no BCP 14 keyword (MUST, SHOULD, MAY, ...)`);
      continue;
    }
    const normative = sentences(prose).filter((s) => keywordsOf(s).length > 0);
    if (normative.length !== 1) {
      errors.push(
        `${where}: [${id}] has ${normative.length} sentences with a keyword; split it into one requirement each`,
      );
      continue;
    }
    const target = targetOf(normative[0]);
    if (!target) {
      errors.push(
        `${where}: [${id}] does not say whom it binds; start the clause before the keyword with "A server", "A client" or "An endpoint": "${excerpt(normative[0])}"`,
      );
      continue;
    }
    requirements.push({
      id,
      level: levelOf(found),
      target,
      area,
      chapter: title,
      file,
      line: block.line,
      text: body.replace(/\s+/g, " ").trim(),
    });
  }
  return { requirements, errors };
}

function excerpt(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 90 ? `${flat.slice(0, 87)}...` : flat;
}

/** The chapter files of a spec directory, sorted: NN-*.md only. */
export function chapterFiles(specDir = SPEC_DIR) {
  return readdirSync(specDir)
    .filter((name) => /^[0-9][0-9]-.*\.md$/.test(name))
    .sort()
    .map((name) => join(specDir, name));
}

/**
 * Builds the index of a spec directory.
 * @returns {{requirements: object[], errors: string[]}}
 */
export function buildIndex(specDir = SPEC_DIR, repoDir = REPO_DIR) {
  const requirements = [];
  const errors = [];
  for (const path of chapterFiles(specDir)) {
    const file = relative(repoDir, path).split("\\").join("/");
    const result = parseChapter(readFileSync(path, "utf8"), file);
    requirements.push(...result.requirements);
    errors.push(...result.errors);
  }
  const seen = new Map();
  for (const r of requirements) {
    const first = seen.get(r.id);
    if (first)
      errors.push(
        `${r.file}:${r.line}: duplicate requirement ID [${r.id}], first at ${first.file}:${first.line}`,
      );
    else seen.set(r.id, r);
  }
  return { requirements, errors };
}

/** The index as it is written to disk: 2-space JSON with a trailing newline. */
export function serialize(requirements) {
  return `${JSON.stringify(requirements, null, 2)}\n`;
}

/**
 * Runs the tool. Returns the exit code.
 * @param {string[]} argv command-line arguments (without node and the script)
 */
export function main(
  argv = process.argv.slice(2),
  { specDir = SPEC_DIR, repoDir = REPO_DIR, log = console } = {},
) {
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    log.error(
      `index-requirements: unknown argument ${unknown[0]}; usage: index-requirements.mjs [--check]`,
    );
    return 2;
  }
  const indexFile = join(specDir, "requirements.json");
  const { requirements, errors } = buildIndex(specDir, repoDir);
  if (errors.length > 0) {
    log.error(`index-requirements: ${errors.length} problem(s) in the spec chapters:`);
    for (const e of errors) log.error(`  ${e}`);
    return 1;
  }
  const fresh = serialize(requirements);
  if (check) {
    let committed;
    try {
      committed = readFileSync(indexFile, "utf8");
    } catch {
      log.error(
        `index-requirements: ${relative(repoDir, indexFile)} is missing; run: node spec/tools/index-requirements.mjs`,
      );
      return 1;
    }
    let same = false;
    try {
      // Compare content, not bytes, so that a formatter's whitespace does not matter.
      same = JSON.stringify(JSON.parse(committed)) === JSON.stringify(requirements);
    } catch {
      same = false;
    }
    if (!same) {
      log.error(
        `index-requirements: ${relative(repoDir, indexFile)} is stale; run: node spec/tools/index-requirements.mjs`,
      );
      return 1;
    }
    log.log(`index-requirements: ${requirements.length} requirements, index is up to date`);
    return 0;
  }
  writeFileSync(indexFile, fresh);
  log.log(
    `index-requirements: wrote ${requirements.length} requirements to ${relative(repoDir, indexFile)}`,
  );
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
