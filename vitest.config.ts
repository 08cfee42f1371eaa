import path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The suite's longest files (minutes each, mostly waiting on real time), started first. Vitest
 * orders files by their durations in its cache, which a fresh clone does not have: it then starts
 * the small files first, and the longest one, started last, ran alone at the end of the run.
 */
const LONGEST_FIRST = [
  "test/e2e/tracking.test.ts",
  "test/dashboards/wall.test.ts",
  "test/e2e/influx-outage.test.ts",
  "test/infra/up-cluster-demo.test.ts",
  "test/e2e/video-chain.test.ts",
];

class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.indexOf(path.relative(this.ctx.config.root, f.moduleId).split(path.sep).join("/"));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // 2 cores: at most two test files at once, each with its own services
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    fileParallelism: true,
    // structured logs of the processes under test: warnings and errors only
    env: { FOOTFALL_LOG_LEVEL: process.env.FOOTFALL_LOG_LEVEL ?? "warn" },
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["test/**/*.test.ts"],
          exclude: ["test/bench/**", "test/chaos/**", "node_modules/**"],
          sequence: { sequencer: LongFilesFirst, groupOrder: 0 },
        },
      },
      {
        // the fault tests, after everything else and one file at a time: their network namespaces
        // come and go on the machine (Chromium aborts its requests on a network change, as the
        // wall's tests saw) and their three nodes load both cores (a camera beside them missed its
        // heartbeat window)
        extends: true,
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
