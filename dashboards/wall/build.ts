/**
 * Bundles the wall page (dashboards/wall/page/) with esbuild into dashboards/wall/dist/ (git-ignored):
 * wall.js (one IIFE: the page, zod and uPlot), wall.css (the page's styles and uPlot's), favicon.svg.
 * Run by infra/setup.sh (`npx tsx dashboards/wall/build.ts`); the API serves dist/ at /wall/assets/.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGE = path.join(HERE, "page");

/**
 * zod re-exports every locale's messages (some 250 KiB); the page shows no zod message, so only
 * English (zod's default) is bundled.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => {
      if (!args.importer.includes(`${path.sep}zod${path.sep}`)) return undefined;
      return { path: path.join(path.dirname(args.importer), "..", "locales", "en.js") };
    });
  },
};

export interface WallBuild { outDir: string; files: Record<string, number> }

export async function buildWall(outDir = path.join(HERE, "dist")): Promise<WallBuild> {
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [{ in: path.join(PAGE, "main.ts"), out: "wall" }, { in: path.join(PAGE, "wall.css"), out: "wall" }],
    outdir: outDir,
    bundle: true,
    minify: true,
    sourcemap: "linked",
    format: "iife",
    platform: "browser",
    target: ["chrome110", "firefox110", "safari16"],
    legalComments: "none",
    plugins: [zodEnglishOnly],
    logLevel: "warning",
  });
  fs.copyFileSync(path.join(PAGE, "favicon.svg"), path.join(outDir, "favicon.svg"));
  const files: Record<string, number> = {};
  for (const f of fs.readdirSync(outDir)) files[f] = fs.statSync(path.join(outDir, f)).size;
  return { outDir, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildWall();
  console.log(`wall bundle: ${Object.entries(r.files).map(([f, n]) => `${f} ${Math.round(n / 1024)} KiB`).join(", ")} in ${path.relative(process.cwd(), r.outDir)}`);
}
