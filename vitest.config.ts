import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests import workspace packages from source, so `npm test` needs no build step.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@confab\/protocol$/, replacement: src("./schemas/src/index.ts") },
      {
        find: /^@confab\/reference-server$/,
        replacement: src("./reference-server/src/index.ts"),
      },
      { find: /^@confab\/test-support$/, replacement: src("./test-support/index.ts") },
      { find: /^@confab\/client$/, replacement: src("./reference-client/src/index.ts") },
    ],
  },
  test: {
    // Builds dist/ once, for the tests that spawn the compiled CLI.
    globalSetup: ["./test-support/global-setup.ts"],
    include: ["**/test/**/*.test.ts", "spec/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
