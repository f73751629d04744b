/**
 * The protocol-change gate as library functions: schema sets from file contents, the
 * per-direction comparison by Table 8 of spec 09, the allow-list, the verdict and its
 * renderings. Pure; the `confab-schema diff` CLI adds the loaders (folders, git refs,
 * tarballs).
 * @module
 */
export * from "./allow.js";
export * from "./compare.js";
export * from "./report.js";
export * from "./requirements.js";
export * from "./schema-set.js";
export * from "./types.js";
