// The package topology (issue 6, item 5): the conformance kit and the reference client never
// reach into the server, the server's protocol core does no I/O, and the protocol package
// runs in browsers. Read from the workspaces' manifests and the imports of their sources;
// the same checks run on a fixture tree first, to show that they catch what they forbid.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ImportRule,
  type ImportSite,
  importsOf,
  reachableFrom,
  sourceFilesUnder,
  type Violation,
  violations,
} from "../imports.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Packages that must stand on the protocol alone, as a third-party kit or client would. */
const SERVER_FREE = ["conformance", "reference-client"];

/** Node built-ins that do I/O: files, sockets, processes, threads. */
const IO_BUILTINS = new Set([
  "fs",
  "net",
  "http",
  "https",
  "http2",
  "tls",
  "dgram",
  "dns",
  "child_process",
  "cluster",
  "worker_threads",
]);

/** Packages that do I/O. */
const IO_PACKAGES = new Set(["ws", "better-sqlite3"]);

/** The server modules that do I/O, relative to the repository root, without extension. */
const IO_MODULES = [
  "reference-server/src/adapter",
  "reference-server/src/store/sqlite-store",
  "reference-server/src/cli",
  "reference-server/src/server",
];

/** The built-in module a specifier names (`node:fs/promises` → `fs`), if it names one. */
function builtin(specifier: string): string | undefined {
  const name = specifier.replace(/^node:/, "").split("/")[0] ?? "";
  return specifier.startsWith("node:") || builtinModules.includes(name) ? name : undefined;
}

/** The package a bare specifier names (`@scope/pkg/sub` → `@scope/pkg`). */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? "");
}

const under = (target: string | undefined, prefix: string) =>
  target !== undefined && (target === prefix || target.startsWith(`${prefix}/`));

/** Whether an import reaches the reference server: its package, or a path into its folder. */
function reachesServer({ specifier, target }: ImportSite): boolean {
  return packageOf(specifier) === "@confab/reference-server" || under(target, "reference-server");
}

/** conformance/ and reference-client/ import nothing of the server. */
const serverFree: ImportRule = (site) =>
  reachesServer(site) ? "imports the reference server" : undefined;

/** The protocol core does no I/O [issue 6, item 5]. */
const pureCore: ImportRule = (site) => {
  const name = builtin(site.specifier);
  if (name !== undefined && IO_BUILTINS.has(name)) return `imports node:${name}, which does I/O`;
  if (IO_PACKAGES.has(packageOf(site.specifier)))
    return `imports ${site.specifier}, which does I/O`;
  const io = IO_MODULES.find((m) => under(site.target, m));
  if (io !== undefined) return `imports ${io}, which does I/O`;
  return undefined;
};

/** The protocol package runs in browsers and depends on no server. */
const browserSafe: ImportRule = (site) => {
  if (builtin(site.specifier) !== undefined) return "imports a Node built-in";
  return reachesServer(site) ? "imports the reference server" : undefined;
};

/** The protocol package, build tools included, never depends on the server. */
const protocolAlone: ImportRule = (site) =>
  reachesServer(site) ? "imports the reference server" : undefined;

interface Manifest {
  name?: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

/** Every dependency a manifest declares, of any kind. */
const declared = (m: Manifest) =>
  Object.keys({
    ...m.dependencies,
    ...m.devDependencies,
    ...m.peerDependencies,
    ...m.optionalDependencies,
  });

/** Workspace folders: those the root manifest lists, and the server-free ones if they have a manifest. */
function workspaces(root: string): string[] {
  const listed = readManifest(root).workspaces ?? [];
  const planned = SERVER_FREE.filter((dir) => {
    try {
      readManifest(join(root, dir));
      return true;
    } catch {
      return false;
    }
  });
  return [...new Set([...listed, ...planned])];
}

/** Manifest problems: a server-free package or the protocol package depending on the server. */
function manifestViolations(root: string): string[] {
  const found: string[] = [];
  for (const dir of workspaces(root)) {
    const manifest = readManifest(join(root, dir));
    const deps = declared(manifest);
    const mustBeServerFree = SERVER_FREE.includes(dir) || dir === "schemas";
    if (mustBeServerFree && deps.includes("@confab/reference-server")) {
      found.push(`${dir}/package.json depends on @confab/reference-server`);
    }
    // The test support is for tests: never a runtime dependency of a package.
    if (Object.keys(manifest.dependencies ?? {}).includes("@confab/test-support")) {
      found.push(`${dir}/package.json has @confab/test-support as a runtime dependency`);
    }
  }
  return found;
}

/** Every import the topology forbids under `root`. */
function importViolations(root: string): Violation[] {
  const protocolEntry = join(root, "schemas/src/index.ts");
  return [
    ...SERVER_FREE.flatMap((dir) =>
      violations(root, sourceFilesUnder(join(root, dir)), serverFree),
    ),
    ...violations(root, sourceFilesUnder(join(root, "reference-server/src/core")), pureCore),
    ...violations(root, sourceFilesUnder(join(root, "schemas/src")), protocolAlone),
    ...violations(root, reachableFrom(protocolEntry), browserSafe),
  ];
}

describe("import scanner", () => {
  it("finds static, type-only, side-effect, re-exported, dynamic and required imports", () => {
    const source = [
      'import { a, type B } from "./a.js";',
      "import type {",
      "  C,",
      "  D,",
      '} from "../c.js";',
      "import * as e from 'e-pkg';",
      'import "./side-effect.js";',
      'export * from "./f.js";',
      'export { g } from "@scope/g/sub";',
      'const h = await import("node:fs");',
      'const i = require("better-sqlite3");',
    ].join("\n");
    expect(importsOf(source).sort()).toEqual(
      [
        "./a.js",
        "../c.js",
        "e-pkg",
        "./side-effect.js",
        "./f.js",
        "@scope/g/sub",
        "node:fs",
        "better-sqlite3",
      ].sort(),
    );
  });

  it("ignores imports shown in comments and doc examples, and exports without from", () => {
    const source = [
      '// import { x } from "ws";',
      "/**",
      " * ```ts",
      ' * import { y } from "node:net";',
      " * ```",
      " */",
      "export const z = 1;",
      "export function from() {}",
      "const s = \"import q from 'r'\";",
    ].join("\n");
    expect(importsOf(source)).toEqual([]);
  });
});

describe("topology checks on a fixture tree", () => {
  let root: string;
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "confab-topology-"));
    put("package.json", JSON.stringify({ workspaces: ["schemas", "reference-server"] }));
    put("schemas/package.json", JSON.stringify({ name: "@confab/protocol" }));
    put("reference-server/package.json", JSON.stringify({ name: "@confab/reference-server" }));
    put(
      "conformance/package.json",
      JSON.stringify({ dependencies: { "@confab/reference-server": "0.1.0" } }),
    );
    put(
      "conformance/src/kit.ts",
      'import { startServer } from "@confab/reference-server";\nexport { startServer };\n',
    );
    put(
      "reference-client/src/deep/client.ts",
      'import type { Engine } from "../../../reference-server/src/core/engine.js";\n',
    );
    put(
      "reference-server/src/core/engine.ts",
      [
        'import { randomBytes } from "node:crypto";',
        'import { readFileSync } from "node:fs";',
        'import type { Store } from "../store/store.js";',
        'import { SqliteStore } from "../store/sqlite-store.js";',
        'import { WsAdapter } from "../adapter/ws-adapter.js";',
        'const ws = await import("ws");',
      ].join("\n"),
    );
    put("schemas/src/index.ts", 'export * from "./crypto.js";\n');
    put("schemas/src/crypto.ts", 'import { createHmac } from "node:crypto";\n');
    put("schemas/src/cli/generate.ts", 'import { writeFileSync } from "node:fs";\n');
    put("schemas/src/leak.ts", 'import { Engine } from "@confab/reference-server";\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("detects a server-free package that depends on or imports the reference server", () => {
    expect(manifestViolations(root)).toEqual([
      "conformance/package.json depends on @confab/reference-server",
    ]);
    const found = importViolations(root).filter((v) => v.reason === "imports the reference server");
    expect(found.map((v) => `${v.file} ${v.specifier}`)).toEqual(
      expect.arrayContaining([
        "conformance/src/kit.ts @confab/reference-server",
        "reference-client/src/deep/client.ts ../../../reference-server/src/core/engine.js",
      ]),
    );
  });

  it("detects a core module that imports I/O, and allows pure imports", () => {
    const core = importViolations(root).filter((v) => v.file.startsWith("reference-server/"));
    expect(core.map((v) => v.specifier).sort()).toEqual(
      ["node:fs", "../store/sqlite-store.js", "../adapter/ws-adapter.js", "ws"].sort(),
    );
  });

  it("detects a protocol module that imports Node or the server, outside its build tools", () => {
    const protocol = importViolations(root).filter((v) => v.file.startsWith("schemas/"));
    expect(protocol.map((v) => `${v.file} ${v.specifier}`).sort()).toEqual(
      ["schemas/src/crypto.ts node:crypto", "schemas/src/leak.ts @confab/reference-server"].sort(),
    );
  });
});

describe("topology of this repository", () => {
  it("reads the workspaces and the sources it checks", () => {
    expect(workspaces(REPO)).toEqual(expect.arrayContaining(["schemas", "reference-server"]));
    expect(sourceFilesUnder(join(REPO, "reference-server/src/core")).length).toBeGreaterThan(5);
    expect(reachableFrom(join(REPO, "schemas/src/index.ts")).length).toBeGreaterThan(5);
  });

  it("has no manifest that makes the kit, the client or the protocol depend on the server", () => {
    expect(manifestViolations(REPO)).toEqual([]);
  });

  it("keeps conformance/ and reference-client/ off the server, the core free of I/O, and the protocol browser-safe", () => {
    expect(importViolations(REPO)).toEqual([]);
  });
});
