// The protocol-change gate, `confab-schema diff` (issue 12): the corpus classified in both
// directions, the comparison of the real schemas, and the CLI end to end over folders, git
// refs, tarballs, its formats, exit statuses and allow-list.
import { execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ChangeClass,
  type DiffReport,
  type Direction,
  diffSchemaSets,
  evaluate,
  fieldOfPointer,
  type JsonSchema,
  parseAllowList,
  renderMarkdown,
  renderText,
  type SchemaChange,
  type SchemaSet,
  schemaSetFromFiles,
} from "@confab/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConfabSchema } from "../src/diff/node/cli.js";
import { CASES, type Expected, TABLE_ROWS } from "./diff-corpus/cases.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const JSON_DIR = join(REPO, "schemas/json");
const BIN = join(REPO, "schemas/dist/src/cli/confab-schema.js");

/** A schema set of the given messages, all of one direction, as files would hold it. */
function setOf(messages: Readonly<Record<string, JsonSchema>>, direction: Direction): SchemaSet {
  const files = new Map<string, string>();
  const registry = Object.entries(messages).map(([name, schema]) => {
    const path = `${direction}/${name.replace("/", "-")}.json`;
    files.set(path, JSON.stringify(schema));
    const [cmd, op] = name.split("/");
    return { name, cmd, op: op ?? null, direction, schema: path };
  });
  files.set("registry.json", JSON.stringify(registry));
  return schemaSetFromFiles(files);
}

const RANK: Record<ChangeClass, number> = { "non-breaking": 0, warning: 1, breaking: 2 };
const worst = (changes: readonly SchemaChange[]) =>
  changes.reduce<ChangeClass | "no change">(
    (w, c) => (w === "no change" || RANK[c.class] > RANK[w] ? c.class : w),
    "no change",
  );

describe("the corpus: every row of the table, both directions", () => {
  it("has a case for every row of the table", () => {
    for (const row of TABLE_ROWS)
      expect(CASES.filter((c) => c.row === row).length).toBeGreaterThan(0);
  });

  for (const c of CASES) {
    for (const direction of ["c2s", "s2c"] as const) {
      const expected: Expected = c[direction];
      const label = expected === "no change" ? "no change" : `${expected.class} (${expected.rule})`;
      it(`${c.row}: ${c.name}, ${direction} → ${label}`, () => {
        const { changes } = diffSchemaSets(setOf(c.base, direction), setOf(c.head, direction));
        if (expected === "no change") {
          expect(changes).toEqual([]);
          return;
        }
        expect(worst(changes)).toBe(expected.class);
        expect(changes).toContainEqual(
          expect.objectContaining({
            rule: expected.rule,
            pointer: expected.pointer,
            direction,
            class: expected.class,
          }),
        );
        // Who is hurt is said for every change that needs a human.
        for (const ch of changes) if (ch.class !== "non-breaking") expect(ch.hurt).toBeTruthy();
      });
    }
  }

  it("lists description and example edits apart, as annotations", () => {
    const c = CASES.find((x) => x.name === "a description reworded");
    const d = diffSchemaSets(setOf(c?.base ?? {}, "c2s"), setOf(c?.head ?? {}, "c2s"));
    expect(d.annotations).toEqual([
      { message: "c2s probe", pointer: "/properties/msg", keyword: "description" },
    ]);
  });

  it("names the field a pointer describes", () => {
    expect(fieldOfPointer("/properties/toPeerIds/items")).toBe("toPeerIds[]");
    expect(fieldOfPointer("/properties/serverInfo/properties/limits/additionalProperties")).toBe(
      "serverInfo.limits.*",
    );
    expect(fieldOfPointer("/oneOf/1")).toBeUndefined();
  });
});

/** A copy of the committed schemas in a temporary folder, to edit. */
function copyOfSchemas(root: string, name: string): string {
  const dir = join(root, name);
  cpSync(JSON_DIR, dir, { recursive: true });
  return dir;
}

/** The parts of a schema file the tests edit. */
interface Editable {
  properties: Record<string, { maxLength?: number; enum?: string[] }>;
}

function edit(dir: string, file: string, change: (s: Editable) => void) {
  const path = join(dir, file);
  const s = JSON.parse(readFileSync(path, "utf8"));
  change(s);
  writeFileSync(path, `${JSON.stringify(s, null, 2)}\n`);
}

/** Runs the CLI in-process. */
function cli(args: string[], cwd = REPO) {
  let stdout = "";
  let stderr = "";
  const status = runConfabSchema(args, {
    cwd,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { status, stdout, stderr };
}

const json = (stdout: string) => JSON.parse(stdout) as DiffReport;

describe("confab-schema diff", () => {
  let tmp: string;
  let base: string;
  let broken: string;
  let allowFile: string;
  let staleFile: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "confab-diff-"));
    base = copyOfSchemas(tmp, "base");
    broken = copyOfSchemas(tmp, "broken");
    // The deliberate break: a c2s field's maxLength lowered.
    edit(broken, "c2s/direct.json", (s) => {
      (s.properties.msg as { maxLength?: number }).maxLength = 1024;
    });
    allowFile = join(tmp, "allow.json");
    writeFileSync(
      allowFile,
      JSON.stringify([
        {
          message: "c2s direct",
          pointer: "/properties/msg",
          rule: "constraint-tightened",
          reason: "a test of a deliberate break",
        },
      ]),
    );
    staleFile = join(tmp, "stale.json");
    writeFileSync(
      staleFile,
      JSON.stringify([
        ...JSON.parse(readFileSync(allowFile, "utf8")),
        { message: "s2c presence", pointer: "/properties/status", reason: "long gone" },
      ]),
    );
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("reports no change between two copies of the same folder, and exits 0", () => {
    const r = cli(["diff", base, JSON_DIR, "--format", "json"]);
    expect(r.status).toBe(0);
    expect(json(r.stdout).changes).toEqual([]);
  });

  it("reports a lowered maxLength on a c2s field with message, direction and pointer, and exits 1", () => {
    const r = cli(["diff", base, broken, "--format", "json"]);
    expect(r.status).toBe(1);
    const report = json(r.stdout);
    expect(report.changes).toEqual([
      expect.objectContaining({
        message: "c2s direct",
        direction: "c2s",
        pointer: "/properties/msg",
        keyword: "maxLength",
        rule: "constraint-tightened",
        class: "breaking",
        before: 5120,
        after: 1024,
      }),
    ]);
    // The spec names `msg` of `direct` in LIMIT-MSG-2.
    expect(report.changes[0]?.requirements).toContain("LIMIT-MSG-2");
    const text = cli(["diff", base, broken]);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(
      /Breaking \(1\):\n {2}c2s direct {2}\/properties\/msg {2}\[constraint-tightened\]/,
    );
    expect(text.stdout).toContain("maxLength lowered from 5120 to 1024");
    expect(text.stdout).toContain("FAILED");
  });

  it("renders markdown for a pull-request comment", () => {
    const r = cli(["diff", base, broken, "--format", "markdown"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("### Protocol-change gate: ❌");
    expect(r.stdout).toContain("| c2s direct | `/properties/msg` | constraint-tightened |");
  });

  it("lets an allow-list entry with a reason pass a deliberate break", () => {
    const r = cli(["diff", base, broken, "--allow", allowFile]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Allowed breaking (1)");
    expect(r.stdout).toContain("allowed: a test of a deliberate break");
  });

  it("fails on a stale allow entry, one that allows no breaking change", () => {
    const r = cli(["diff", base, broken, "--allow", staleFile, "--format", "json"]);
    expect(r.status).toBe(1);
    const report = json(r.stdout);
    expect(report.counts).toMatchObject({ breaking: 0, allowed: 1, stale: 1 });
    expect(report.stale).toEqual([expect.objectContaining({ message: "s2c presence" })]);
    // With nothing left to allow, the whole list is stale.
    expect(cli(["diff", base, base, "--allow", allowFile]).status).toBe(1);
  });

  it("exits 2 on usage errors", () => {
    expect(cli([]).status).toBe(2);
    expect(cli(["merge", base, base]).status).toBe(2);
    expect(cli(["diff", base]).status).toBe(2);
    expect(cli(["diff", base, base, "--format", "xml"]).status).toBe(2);
    expect(cli(["diff", base, join(tmp, "nowhere")]).status).toBe(2);
    expect(cli(["diff", "git:no-such-ref-xyz", base]).status).toBe(2);
    expect(cli(["diff", base, base, "--allow", join(tmp, "none.json")]).status).toBe(2);
    const bad = join(tmp, "bad-allow.json");
    writeFileSync(bad, JSON.stringify([{ message: "c2s direct", pointer: "" }]));
    const r = cli(["diff", base, base, "--allow", bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("needs a reason");
    const help = cli(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: confab-schema diff BASE HEAD");
  });

  it("reads a packed npm tarball of the protocol package", () => {
    const packDir = join(tmp, "pack");
    mkdirSync(packDir);
    execFileSync("npm", ["pack", "--silent", "--pack-destination", packDir], {
      cwd: join(REPO, "schemas"),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tgz = join(packDir, "confab-protocol-0.1.0.tgz");
    const r = cli(["diff", tgz, JSON_DIR, "--format", "json"]);
    expect(r.status).toBe(0);
    expect(json(r.stdout).changes).toEqual([]);
    // A hand-made tarball of the broken copy: package/json/ as npm lays it out.
    const hand = join(tmp, "hand");
    cpSync(broken, join(hand, "package/json"), { recursive: true });
    execFileSync("tar", ["-czf", join(tmp, "broken.tgz"), "-C", hand, "package"]);
    const b = cli(["diff", tgz, join(tmp, "broken.tgz"), "--format", "json"]);
    expect(b.status).toBe(1);
    expect(json(b.stdout).changes[0]).toMatchObject({ pointer: "/properties/msg" });
  });

  it("runs as the package's bin, with the same exit statuses", () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: "utf8" });
    expect(run("--help").status).toBe(0);
    expect(run("diff", base, JSON_DIR).status).toBe(0);
    const r = run("diff", base, broken);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("c2s direct");
    expect(run("diff").status).toBe(2);
  });
});

describe("confab-schema diff over git refs", () => {
  let repo: string;
  const git = (...args: string[]) =>
    execFileSync(
      "git",
      [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
        ...args,
      ],
      { cwd: repo, stdio: ["ignore", "pipe", "pipe"] },
    );

  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), "confab-diff-git-"));
    git("init", "-q");
    cpSync(JSON_DIR, join(repo, "schemas/json"), { recursive: true });
    git("add", ".");
    git("commit", "-q", "-m", "base");
    // A s2c enum value added: presence.status gets "away" (breaking for clients).
    edit(join(repo, "schemas/json"), "s2c/presence.json", (s) => {
      s.properties.status?.enum?.push("away");
    });
    git("commit", "-q", "-am", "away");
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it("compares two commits without a checkout", () => {
    const r = cli(["diff", "git:HEAD~1", "git:HEAD", "--format", "json"], repo);
    expect(r.status).toBe(1);
    const report = json(r.stdout);
    expect(report.changes).toEqual([
      expect.objectContaining({
        message: "s2c presence",
        direction: "s2c",
        pointer: "/properties/status",
        rule: "enum-value-added",
        class: "breaking",
        after: "away",
      }),
    ]);
    // That repository has no spec: the report says it cites none.
    expect(report.requirementsSource).toBeNull();
  });

  it("compares a commit with a folder, and a ref with itself", () => {
    expect(cli(["diff", "git:HEAD", join(repo, "schemas/json")], repo).status).toBe(0);
    expect(cli(["diff", "git:HEAD~1", "git:HEAD~1"], repo).status).toBe(0);
    expect(cli(["diff", "git:HEAD~1", "git:HEAD", "--git-path", "nowhere"], repo).status).toBe(2);
  });

  const clean =
    existsSync(join(REPO, ".git")) &&
    spawnSync("git", ["status", "--porcelain", "--", "schemas/json"], {
      cwd: REPO,
      encoding: "utf8",
    }).stdout === "";
  // Only meaningful when schemas/json is committed as it is: in CI's fresh clone always;
  // while someone edits the schemas locally it would report their edits, so it stands down.
  it.skipIf(!clean)("git:HEAD of this repository against its clean schemas/json: no change", () => {
    const r = cli(["diff", "git:HEAD", "schemas/json", "--format", "json"]);
    expect(r.status).toBe(0);
    expect(json(r.stdout).changes).toEqual([]);
  });
});

describe("the released schemas of spec v1.0 against the working ones", () => {
  // schemas/released/1.0 is schemas/json of commit edf920c, pinned by its SHA256SUMS.
  it("classifies every v1.0 → v1.1 change, none of them breaking", () => {
    const r = cli(["diff", "schemas/released/1.0", "schemas/json", "--format", "json"]);
    const report = json(r.stdout);
    expect(report.counts.breaking).toBe(0);
    expect(r.status).toBe(0);
    const added = report.changes.filter((c) => c.rule === "message-added").map((c) => c.message);
    expect(added).toEqual(
      expect.arrayContaining([
        "c2s room/query",
        "c2s room/list",
        "s2c room/query-result",
        "s2c room/list-result",
      ]),
    );
    expect(report.changes).toContainEqual(
      expect.objectContaining({
        message: "c2s session/open",
        pointer: "/properties/echo",
        rule: "optional-field-added",
      }),
    );
    expect(report.changes).toContainEqual(
      expect.objectContaining({
        message: "s2c session/opened",
        pointer: "/properties/serverInfo",
        rule: "optional-field-added",
        class: "non-breaking",
      }),
    );
    // v1.0's schemas carried no error codes: v1.1's are first documented, for review.
    const codes = report.changes.filter((c) => c.keyword === "x-confab-error");
    expect(codes.every((c) => c.rule === "error-code-annotated")).toBe(true);
    expect(new Set(report.changes.map((c) => c.rule))).toEqual(
      new Set(["error-code-annotated", "optional-field-added", "message-added", "reply-changed"]),
    );
  });
});

describe("the library", () => {
  it("refuses allow-list entries it cannot match safely", () => {
    expect(() => parseAllowList("{}")).toThrow(/array/);
    expect(() => parseAllowList('[{"message":"c2s direct","pointr":"","reason":"x"}]')).toThrow(
      /unknown member pointr/,
    );
    expect(() =>
      parseAllowList('[{"message":"c2s direct","pointer":"","rule":"nope","reason":"x"}]'),
    ).toThrow(/unknown rule/);
  });

  it("reports a reply that changed in the registry as a warning", () => {
    const files = (reply: unknown) =>
      new Map([
        [
          "registry.json",
          JSON.stringify([
            {
              name: "probe",
              cmd: "probe",
              op: null,
              direction: "c2s",
              reply,
              schema: "c2s/probe.json",
            },
          ]),
        ],
        ["c2s/probe.json", "{}"],
      ]);
    const d = diffSchemaSets(
      schemaSetFromFiles(files({ name: "ack", repliedWithoutSerial: true })),
      schemaSetFromFiles(files({ name: "ack", repliedWithoutSerial: false })),
    );
    expect(d.changes).toEqual([
      expect.objectContaining({ rule: "reply-changed", class: "warning" }),
    ]);
    const report = evaluate(d, [], { base: "a", head: "b" });
    expect(report.passed).toBe(true);
    expect(renderText(report)).toContain("Warnings (1)");
    expect(renderMarkdown(report)).toContain("#### Warnings (1)");
  });
});
