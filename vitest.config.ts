import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/bench/**", "node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // 2 cores: at most two test files at once, each with its own services
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    fileParallelism: true,
    // structured logs of the processes under test: warnings and errors only
    env: { FOOTFALL_LOG_LEVEL: process.env.FOOTFALL_LOG_LEVEL ?? "warn" },
  },
});
