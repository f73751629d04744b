// Checks the requirement index of the specification (spec/README.md, "Requirement IDs")
// and the tool that builds it.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AREAS,
  chapterFiles,
  ID_PATTERN,
  INDEX_FILE,
  main,
  parseChapter,
  REPO_DIR,
  type Requirement,
  SPEC_DIR,
} from "../tools/index-requirements.mjs";

const TOOL = join(SPEC_DIR, "tools", "index-requirements.mjs");
const requirements: Requirement[] = JSON.parse(readFileSync(INDEX_FILE, "utf8"));

/** Runs the tool as a process and returns its exit code and output. */
function runTool(args: string[]): { code: number; output: string } {
  try {
    const output = execFileSync(process.execPath, [TOOL, ...args], {
      cwd: REPO_DIR,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { code: 0, output };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, output: `${err.stdout}${err.stderr}` };
  }
}

describe("the committed requirement index", () => {
  it("is fresh: the tool's --check passes", () => {
    const { code, output } = runTool(["--check"]);
    expect(output).toContain("up to date");
    expect(code).toBe(0);
  });

  it("holds requirements from every chapter", () => {
    const files = new Set(requirements.map((r) => r.file));
    for (const path of chapterFiles()) {
      const file = path
        .slice(REPO_DIR.length + 1)
        .split("\\")
        .join("/");
      expect(files, file).toContain(file);
    }
  });

  it("has unique IDs", () => {
    const seen = new Set<string>();
    const duplicates = requirements.filter((r) => seen.size === seen.add(r.id).size);
    expect(duplicates.map((r) => r.id)).toEqual([]);
  });

  it("has well-formed IDs whose area is their first part and a known area", () => {
    for (const r of requirements) {
      expect(r.id, r.id).toMatch(ID_PATTERN);
      expect(r.area, r.id).toBe(r.id.split("-")[0]);
      expect(AREAS, r.id).toContain(r.area);
    }
  });

  it("gives every requirement a level and a target", () => {
    for (const r of requirements) {
      expect(["MUST", "SHOULD", "MAY"], r.id).toContain(r.level);
      expect(["server", "client", "both", "signer"], r.id).toContain(r.target);
    }
  });

  it("points every requirement at the line of the chapter that states it", () => {
    const chapters = new Map<string, string[]>();
    for (const r of requirements) {
      if (!chapters.has(r.file)) {
        chapters.set(r.file, readFileSync(join(REPO_DIR, r.file), "utf8").split(/\r?\n/));
      }
      expect(chapters.get(r.file)?.[r.line - 1], r.id).toContain(`[${r.id}]`);
    }
  });

  it("binds both servers and clients", () => {
    const targets = new Set(requirements.map((r) => r.target));
    expect(targets).toEqual(new Set(["server", "client", "both", "signer"]));
  });

  it("resolves every requirement ID that the chapters and the README cite", () => {
    const ids = new Set(requirements.map((r) => r.id));
    const dangling: string[] = [];
    for (const path of [...chapterFiles(), join(SPEC_DIR, "README.md")]) {
      const text = readFileSync(path, "utf8");
      for (const m of text.matchAll(/\b[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-[0-9]+\b/g)) {
        const area = m[0].split("-")[0] ?? "";
        if (AREAS.includes(area) && !ids.has(m[0])) dangling.push(`${path}: ${m[0]}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it("cites every decision D1 to D13 somewhere in the chapters", () => {
    const text = chapterFiles()
      .map((path) => readFileSync(path, "utf8"))
      .join("\n");
    for (let d = 1; d <= 13; d++) expect(text, `D${d}`).toMatch(new RegExp(`\\bD${d}\\b`));
  });
});

describe("parseChapter", () => {
  const parse = (markdown: string) => parseChapter(`# Test\n\n${markdown}\n`, "spec/99-test.md");

  it("extracts a requirement with its level, target, area, chapter and line", () => {
    const { requirements: found, errors } = parse(
      "- [DIRECT-ACK-1] A server MUST send an `ack`\n  for every persistent message.",
    );
    expect(errors).toEqual([]);
    expect(found).toEqual([
      {
        id: "DIRECT-ACK-1",
        level: "MUST",
        target: "server",
        area: "DIRECT",
        chapter: "Test",
        file: "spec/99-test.md",
        line: 3,
        text: "A server MUST send an `ack` for every persistent message.",
      },
    ]);
  });

  it("maps every BCP 14 keyword to MUST, SHOULD or MAY, strongest first", () => {
    const level = (sentence: string) => parse(`- [ACK-X-1] ${sentence}`).requirements[0]?.level;
    expect(level("A server MUST NOT do it.")).toBe("MUST");
    expect(level("A server SHALL do it.")).toBe("MUST");
    expect(level("A server SHALL NOT do it.")).toBe("MUST");
    expect(level("A server is REQUIRED to do it.")).toBe("MUST");
    expect(level("A server SHOULD NOT do it.")).toBe("SHOULD");
    expect(level("A server is RECOMMENDED to do it.")).toBe("SHOULD");
    expect(level("A server is NOT RECOMMENDED to do it.")).toBe("SHOULD");
    expect(level("A server MAY do it.")).toBe("MAY");
    expect(level("A server is OPTIONAL here.")).toBe("MAY");
    expect(level("A server MAY do it and MUST log it.")).toBe("MUST");
  });

  it("tells the target from the subject of the keyword sentence", () => {
    const target = (sentence: string) => parse(`- [ACK-X-1] ${sentence}`).requirements[0]?.target;
    expect(target("A server MUST do it.")).toBe("server");
    expect(target("The router MUST do it.")).toBe("server");
    expect(target("A client MUST do it.")).toBe("client");
    expect(target("A client's signing service MUST do it.")).toBe("signer");
    expect(target("An endpoint MUST do it.")).toBe("both");
    expect(target("When a client sends `x`, a server MUST do it.")).toBe("server");
    expect(target("A client that a server closed MUST wait.")).toBe("client");
  });

  it("reports a requirement whose subject names no party", () => {
    const { errors } = parse("- [ACK-X-1] The ack MUST carry `uid`.");
    expect(errors.join("\n")).toMatch(/does not say whom it binds/);
  });

  it("reports a keyword sentence without an ID", () => {
    const { errors } = parse("A server MUST do it.");
    expect(errors.join("\n")).toMatch(
      /spec\/99-test.md:3: normative keyword MUST .* without a requirement ID/,
    );
  });

  it("reports a keyword in a table row without an ID", () => {
    const { errors } = parse("| a | b |\n|---|---|\n| x | a server MAY do it |");
    expect(errors.join("\n")).toMatch(/keyword MAY in a row/);
  });

  it("reports an ID without a keyword", () => {
    const { errors } = parse("- [ACK-X-1] A server does it.");
    expect(errors.join("\n")).toMatch(/\[ACK-X-1\] has no BCP 14 keyword/);
  });

  it("reports a malformed ID", () => {
    const { errors } = parse("- [ACK-x1] A server MUST do it.\n- [ACK-TOPIC] A server MUST do it.");
    expect(errors).toHaveLength(2);
    expect(errors.join("\n")).toMatch(/malformed requirement ID \[ACK-x1\]/);
    expect(errors.join("\n")).toMatch(/malformed requirement ID \[ACK-TOPIC\]/);
  });

  it("reports an ID of an unknown area", () => {
    const { errors } = parse("- [BOGUS-X-1] A server MUST do it.");
    expect(errors.join("\n")).toMatch(/unknown area BOGUS/);
  });

  it("reports a second ID in one block", () => {
    const { errors } = parse("- [ACK-X-1] A server MUST do it. [ACK-X-2] A client MAY too.");
    expect(errors.join("\n")).toMatch(/second ID \[ACK-X-2\]/);
  });

  it("reports two keyword sentences under one ID", () => {
    const { errors } = parse("- [ACK-X-1] A server MUST do it. A client MAY ignore it.");
    expect(errors.join("\n")).toMatch(/2 sentences with a keyword/);
  });

  it("accepts explanatory sentences without keywords beside the normative one", () => {
    const { requirements: found, errors } = parse(
      "- [ACK-X-1] A server MUST do it, e.g. now. This keeps clients simple.",
    );
    expect(errors).toEqual([]);
    expect(found).toHaveLength(1);
  });

  it("ignores keywords in code spans, fenced code and ID references", () => {
    const { requirements: found, errors } = parse(
      "Use `MUST` here; see SESSION-REQUIRED-1.\n\n```\nA server MUST\n```\n\n| SESSION_REQUIRED | x |",
    );
    expect(errors).toEqual([]);
    expect(found).toEqual([]);
  });
});

describe("the tool", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A scratch repository with one chapter; returns the tool's exit code and messages. */
  function scratch(chapter: string) {
    dir = mkdtempSync(join(tmpdir(), "confab-spec-"));
    const specDir = join(dir, "spec");
    mkdirSync(specDir);
    writeFileSync(join(specDir, "01-test.md"), chapter);
    const messages: string[] = [];
    const log = { log: (m: string) => messages.push(m), error: (m: string) => messages.push(m) };
    const run = (argv: string[]) => ({
      code: main(argv, { specDir, repoDir: dir as string, log }),
      messages: messages.splice(0),
    });
    return { specDir, run };
  }

  it("writes an index that --check then accepts", () => {
    const { specDir, run } = scratch("# T\n\n- [ACK-X-1] A server MUST do it.\n");
    expect(run([]).code).toBe(0);
    const written = readFileSync(join(specDir, "requirements.json"), "utf8");
    expect(written.endsWith("]\n")).toBe(true);
    expect(written).toContain('\n  {\n    "id": "ACK-X-1",');
    expect(run(["--check"]).code).toBe(0);
  });

  it("fails --check with a readable message when the index is stale", () => {
    const { specDir, run } = scratch("# T\n\n- [ACK-X-1] A server MUST do it.\n");
    run([]);
    writeFileSync(join(specDir, "01-test.md"), "# T\n\n- [ACK-X-1] A client MUST do it.\n");
    const result = run(["--check"]);
    expect(result.code).toBe(1);
    expect(result.messages.join("\n")).toMatch(
      /requirements\.json is stale; run: node spec\/tools/,
    );
  });

  it("fails --check when the index is missing", () => {
    const { run } = scratch("# T\n\n- [ACK-X-1] A server MUST do it.\n");
    const result = run(["--check"]);
    expect(result.code).toBe(1);
    expect(result.messages.join("\n")).toMatch(/is missing/);
  });

  it("fails on a duplicated ID and writes nothing", () => {
    const { specDir, run } = scratch(
      "# T\n\n- [ACK-X-1] A server MUST do it.\n- [ACK-X-1] A client MUST do it.\n",
    );
    const result = run([]);
    expect(result.code).toBe(1);
    expect(result.messages.join("\n")).toMatch(
      /duplicate requirement ID \[ACK-X-1\], first at spec\/01-test.md:3/,
    );
    expect(() => readFileSync(join(specDir, "requirements.json"))).toThrow();
  });

  it("fails --check on a chapter that breaks a rule even when the index matches", () => {
    const { specDir, run } = scratch("# T\n\n- [ACK-X-1] A server MUST do it.\n");
    run([]);
    writeFileSync(
      join(specDir, "01-test.md"),
      "# T\n\n- [ACK-X-1] A server MUST do it.\n\nA client SHOULD too.\n",
    );
    const result = run(["--check"]);
    expect(result.code).toBe(1);
    expect(result.messages.join("\n")).toMatch(/spec\/01-test.md:5: normative keyword SHOULD/);
  });
});
