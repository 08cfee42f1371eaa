import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from "playwright-core";

/**
 * Real Chromium for browser tests: Debian's /usr/bin/chromium (infra/setup.sh installs it)
 * driven by playwright-core, headless. Every page opened through here records its console
 * errors and uncaught page errors, and screenshots go to test-artifacts/ (git-ignored).
 */
export const CHROMIUM = process.env.FOOTFALL_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "test-artifacts");

export interface PageProblem {
  kind: "console" | "pageerror";
  text: string;
  /** the URL the console names as the source (a failed resource's URL) */
  url: string;
}

export interface TestPage {
  page: Page;
  context: BrowserContext;
  /** console errors and page errors seen so far */
  problems: PageProblem[];
  /** problems not matched by any of `tolerated` */
  unexpected(tolerated?: readonly Tolerated[]): PageProblem[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A problem a test accepts for a named reason (so it can be removed once the reason is gone). */
export interface Tolerated { why: string; matches(p: PageProblem): boolean }

export interface TestBrowser {
  browser: Browser;
  open(opts?: { width?: number; height?: number; baseURL?: string }): Promise<TestPage>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<TestBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run npm run setup (it installs Debian's chromium)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // containers and CI run as root without user namespaces: Chromium's sandbox cannot start there
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--font-render-hinting=none"],
  });
  const pages: TestPage[] = [];
  return {
    browser,
    async open(opts = {}) {
      const context = await browser.newContext({
        viewport: { width: opts.width ?? 1920, height: opts.height ?? 1080 },
        deviceScaleFactor: 1,
        ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      });
      const page = await context.newPage();
      const problems: PageProblem[] = [];
      page.on("console", (m: ConsoleMessage) => {
        if (m.type() === "error") problems.push({ kind: "console", text: m.text(), url: m.location().url });
      });
      page.on("pageerror", (e) => problems.push({ kind: "pageerror", text: `${e.name}: ${e.message}`, url: "" }));
      const tp: TestPage = {
        page, context, problems,
        unexpected: (tolerated = []) => problems.filter((p) => !tolerated.some((t) => t.matches(p))),
        async screenshot(name) {
          fs.mkdirSync(ARTIFACTS, { recursive: true });
          const file = path.join(ARTIFACTS, `${name}.png`);
          await page.screenshot({ path: file, fullPage: false });
          return file;
        },
        close: () => context.close(),
      };
      pages.push(tp);
      return tp;
    },
    async close() {
      await Promise.allSettled(pages.map((p) => p.close()));
      await browser.close();
    },
  };
}
