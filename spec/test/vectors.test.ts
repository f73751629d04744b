// Recomputes the test vectors of spec/06-signatures.md and spec/05-history.md with
// node:crypto. The vectors are read from the Markdown tables themselves, so the spec and
// this test cannot drift apart.
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SPEC_DIR } from "../tools/index-requirements.mjs";

type Row = Record<string, string>;

/** Every Markdown table of a chapter, as rows keyed by lower-cased header text. */
function tables(file: string): Row[][] {
  const lines = readFileSync(join(SPEC_DIR, file), "utf8").split(/\r?\n/);
  const found: Row[][] = [];
  let block: string[] = [];
  const flush = () => {
    if (block.length >= 2) {
      const [header, , ...body] = block.map(cells);
      found.push(
        body.map((row) =>
          Object.fromEntries((header ?? []).map((h, i) => [h.toLowerCase(), row[i] ?? ""])),
        ),
      );
    }
    block = [];
  };
  for (const line of lines) {
    if (line.trimStart().startsWith("|")) block.push(line.trim());
    else flush();
  }
  flush();
  return found;
}

/** The cells of a table row. Vectors contain no `|`, so a plain split is exact. */
function cells(row: string): string[] {
  return row
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => c.trim());
}

/** The code spans of a cell: `a` `b` → ["a", "b"]; "(none)" → []. */
function codes(cell: string | undefined): string[] {
  return [...(cell ?? "").matchAll(/`([^`]*)`/g)].map((m) => m[1] ?? "");
}

/** The single code span of a cell, or "" for "(none)". */
function code(cell: string | undefined): string {
  const all = codes(cell);
  expect(all.length, `cell ${cell}`).toBeLessThanOrEqual(1);
  return all[0] ?? "";
}

/** Distinct ids in ascending UTF-16 code unit order (JavaScript's default sort), as the spec says. */
function sortedIds(ids: string[]): string[] {
  return [...new Set(ids)].sort();
}

const hmac = (key: string, text: string) =>
  createHmac("sha1", key).update(text, "utf8").digest("hex");
const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

/** The tables of a chapter whose header has all the given columns. */
function tablesWith(file: string, ...columns: string[]): Row[][] {
  return tables(file).filter((t) => t.length > 0 && columns.every((c) => c in (t[0] as Row)));
}

const sessionTables = tablesWith(
  "06-signatures.md",
  "watch peer ids (as sent)",
  "signed string",
  "hmac-sha1 (hex)",
);
const groupTables = tablesWith(
  "06-signatures.md",
  "group peer ids (as sent)",
  "signed string",
  "hmac-sha1 (hex)",
);
const convTables = tablesWith(
  "05-history.md",
  "participants (as sent)",
  "joined string",
  "conversation id",
);
const sessionRows = sessionTables.flat();
const groupRows = groupTables.flat();
const convRows = convTables.flat();

describe("the signature vectors of 06-signatures.md", () => {
  it("are found in one session table and one group table", () => {
    expect(sessionTables).toHaveLength(1);
    expect(groupTables).toHaveLength(1);
    expect(sessionRows.length).toBeGreaterThanOrEqual(6);
    expect(groupRows.length).toBeGreaterThanOrEqual(4);
  });

  it("include the four historical vectors of the protocol facts", () => {
    const listed = new Map(
      [...sessionRows, ...groupRows].map((r) => [
        code(r["signed string"]),
        code(r["hmac-sha1 (hex)"]),
      ]),
    );
    expect(listed.get("app1:alice:bob:carol:1417334400:n0nce")).toBe(
      "31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e",
    );
    expect(listed.get("app1:alice::1417334400:n0nce")).toBe(
      "e9ceb17f10c1fa3c348000863f7e6332aa2c897d",
    );
    expect(listed.get("app1:alice:g1:bob:carol:1417334400:n0nce:invite")).toBe(
      "6ca832cbc9b3d7e358b962d652526e2d57e8b45c",
    );
    expect(listed.get("app1:alice:::1417334400:n0nce:join")).toBe(
      "5529070bf3eb8d624a3790296b697bed9c921d41",
    );
  });

  it("include super-peer vectors with both suffixes", () => {
    const suffixes = sessionRows.map((r) => code(r.suffix));
    expect(suffixes).toContain("sp");
    expect(suffixes).toContain("su");
  });

  for (const row of sessionRows) {
    it(`builds the signed string of session vector ${row["#"]} from its columns`, () => {
      const parts = [
        code(row["app id"]),
        code(row["peer id"]),
        sortedIds(codes(row["watch peer ids (as sent)"])).join(":"),
        code(row.t),
        code(row.n),
      ];
      const suffix = code(row.suffix);
      if (suffix) parts.push(suffix);
      expect(parts.join(":")).toBe(code(row["signed string"]));
    });

    it(`computes the listed HMAC-SHA1 of session vector ${row["#"]}`, () => {
      const expected = code(row["hmac-sha1 (hex)"]);
      expect(expected).toMatch(/^[0-9a-f]{40}$/);
      expect(hmac(code(row["master key"]), code(row["signed string"]))).toBe(expected);
    });
  }

  for (const row of groupRows) {
    it(`builds the signed string of group vector ${row["#"]} from its columns`, () => {
      const parts = [
        code(row["app id"]),
        code(row["peer id"]),
        code(row["group id"]),
        sortedIds(codes(row["group peer ids (as sent)"])).join(":"),
        code(row.t),
        code(row.n),
        code(row.action),
      ];
      expect(["join", "invite", "kick"]).toContain(code(row.action));
      expect(parts.join(":")).toBe(code(row["signed string"]));
    });

    it(`computes the listed HMAC-SHA1 of group vector ${row["#"]}`, () => {
      const expected = code(row["hmac-sha1 (hex)"]);
      expect(expected).toMatch(/^[0-9a-f]{40}$/);
      expect(hmac(code(row["master key"]), code(row["signed string"]))).toBe(expected);
    });
  }
});

describe("the conversation id vectors of 05-history.md", () => {
  it("are found in one table that includes the historical vector", () => {
    expect(convTables).toHaveLength(1);
    expect(convRows.length).toBeGreaterThanOrEqual(5);
    const listed = new Map(
      convRows.map((r) => [code(r["joined string"]), code(r["conversation id"])]),
    );
    expect(listed.get("u0988:u1234")).toBe("bcd26a54e98687390b0abb4d83683d4b");
  });

  it("include a vector on which UTF-16 order and code point order disagree", () => {
    const codePoint = (ids: string[]) =>
      [...new Set(ids)]
        .sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")))
        .join(":");
    const disagreeing = convRows.filter(
      (r) => codePoint(codes(r["participants (as sent)"])) !== code(r["joined string"]),
    );
    expect(disagreeing.length).toBeGreaterThanOrEqual(1);
  });

  for (const row of convRows) {
    it(`joins the participants of vector ${row["#"]} deduplicated in UTF-16 code unit order`, () => {
      expect(sortedIds(codes(row["participants (as sent)"])).join(":")).toBe(
        code(row["joined string"]),
      );
    });

    it(`computes the listed MD5 of vector ${row["#"]}`, () => {
      const expected = code(row["conversation id"]);
      expect(expected).toMatch(/^[0-9a-f]{32}$/);
      expect(md5(code(row["joined string"]))).toBe(expected);
    });
  }
});
