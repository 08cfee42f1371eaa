import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm } from "@nats-io/kv";
import { KEY_COOKIE } from "../../access/credential.ts";
import { KV_STILLS } from "../../contracts/nats-layout.ts";
import { connectNats } from "../../infra/nats.ts";
import { buildWall } from "../../dashboards/wall/build.ts";
import { ARTIFACTS, launchChromium, type TestBrowser, type TestPage } from "../support/browser.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";
import { createKey, MARKUP_NAME, SCRIPT_NAME, seedDpuSite, seedPlanSite, settledCount } from "./wall-fixture.ts";

/**
 * The wall in real Chromium (Debian's, through playwright-core) against the real stack
 * (nats-server, influxd, the MQTT broker, an actor host process, the API): a DPU-only site
 * (tiles) and a floor-plan site (the camera mall with DPUs on every doorway), filled through
 * MQTT and HTTP ingest with simulated people.
 */

const DPU_SITE = "wall-dpus";
const PLAN_SITE = "wall-plan";

describe("the wall (real Chromium, nats-server, influxd, broker, actor host, API)", () => {
  let stack: TestStack;
  let browser: TestBrowser;
  let dpuKey: string;
  let planKey: string;
  let planRun: Awaited<ReturnType<typeof seedPlanSite>>;

  beforeAll(async () => {
    await buildWall();
    stack = await startTestStack({ hosts: 1, partitions: 2 });
    await seedDpuSite(stack, DPU_SITE, { walkers: 300, minutes: 50, seed: 3 });
    planRun = await seedPlanSite(stack, PLAN_SITE, { walkers: 60, minutes: 4, seed: 5, fps: 3 });
    await settledCount(stack, `/api/v1/sites/${DPU_SITE}/count`);
    await settledCount(stack, `/api/v1/sites/${PLAN_SITE}/count`);
    dpuKey = (await createKey(stack, [DPU_SITE])).key;
    planKey = (await createKey(stack, [PLAN_SITE])).key;
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const apiJson = async <T>(pathname: string): Promise<T> => {
    const r = await stack.admin("GET", pathname);
    expect(r.status, pathname).toBe(200);
    return (await r.json()) as T;
  };

  /** Opens a site's wall with a key (traded for the cookie) and waits for its first paint. */
  async function openWall(site: string, key: string): Promise<TestPage> {
    const p = await browser.open();
    const res = await p.page.goto(`${stack.apiUrl}/wall/${site}?key=${encodeURIComponent(key)}`);
    expect(res?.status()).toBe(200);
    await p.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return p;
  }

  const textOf = (p: TestPage, selector: string) => p.page.locator(selector).first().textContent();
  const toNumber = (s: string | null) => Number((s ?? "").replace(/,/g, ""));

  it("trades the key in the address for an HttpOnly, SameSite=Strict cookie and redirects (303) so the key leaves the address bar", async () => {
    const r = await fetch(`${stack.apiUrl}/wall/${DPU_SITE}?key=${encodeURIComponent(dpuKey)}`, { redirect: "manual" });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe(`/wall/${DPU_SITE}`);
    const cookie = r.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(new RegExp(`^${KEY_COOKIE}=`));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);

    const p = await openWall(DPU_SITE, dpuKey);
    try {
      expect(p.page.url()).toBe(`${stack.apiUrl}/wall/${DPU_SITE}`);
      const cookies = await p.context.cookies(stack.apiUrl);
      const c = cookies.find((x) => x.name === KEY_COOKIE)!;
      expect(c).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
      // the page's script cannot read it
      expect(await p.page.evaluate(() => document.cookie)).not.toContain(KEY_COOKIE);
      // the page itself: no inline script, a CSP that allows only the page's own script
      const html = await stack.admin("GET", `/wall/${DPU_SITE}`);
      expect(html.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await html.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    } finally {
      await p.close();
    }
  });

  it("a key link followed from another site still ends on the wall (the Strict cookie is sent after one reload from the wall's own origin)", async () => {
    const p = await browser.open();
    try {
      // a page of no site of ours (about:blank's opaque origin), as a link in a chat or a mail
      await p.page.setContent(`<a id="go" href="${stack.apiUrl}/wall/${DPU_SITE}?key=${encodeURIComponent(dpuKey)}">wall</a>`);
      await p.page.click("#go");
      await p.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(p.page.url()).toBe(`${stack.apiUrl}/wall/${DPU_SITE}`);
    } finally {
      await p.close();
    }
  });

  it("without a key answers a 401 page that says how to get one", async () => {
    const p = await browser.open();
    try {
      const res = await p.page.goto(`${stack.apiUrl}/wall/${DPU_SITE}`);
      expect(res?.status()).toBe(401);
      const body = (await p.page.textContent("body")) ?? "";
      expect(body).toContain("This wall needs a key");
      expect(body).toContain("POST /api/v1/keys");
      expect(body).toContain(`/wall/${DPU_SITE}?key=`);
      // neither does the plan answer
      expect((await fetch(`${stack.apiUrl}/wall/${DPU_SITE}/plan.json`)).status).toBe(401);
      // an unknown key is not traded for a cookie
      const bad = await p.page.goto(`${stack.apiUrl}/wall/${DPU_SITE}?key=ffk_000000000000_notakeyatallnotakeyatall`);
      expect(bad?.status()).toBe(401);
      expect(await p.page.textContent("body")).toContain("was not accepted");
      expect(await p.context.cookies(stack.apiUrl)).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("refuses another site's viewer key with a 403 page (and the key still leaves the address bar)", async () => {
    const p = await browser.open();
    try {
      const res = await p.page.goto(`${stack.apiUrl}/wall/${PLAN_SITE}?key=${encodeURIComponent(dpuKey)}`);
      expect(res?.status()).toBe(403);
      expect(p.page.url()).toBe(`${stack.apiUrl}/wall/${PLAN_SITE}`);
      expect(await p.page.textContent("body")).toContain("does not cover site");
      const plan = await p.page.evaluate(async (site) => (await fetch(`/wall/${site}/plan.json`)).status, PLAN_SITE);
      expect(plan).toBe(403);
      // the same browser's key still opens its own site
      const own = await p.page.goto(`${stack.apiUrl}/wall/${DPU_SITE}`);
      expect(own?.status()).toBe(200);
    } finally {
      await p.close();
    }
  });

  it("a DPU-only site: space tiles with the API's counts, no console errors, no scrollbars", async () => {
    const p = await openWall(DPU_SITE, dpuKey);
    try {
      const topo = await apiJson<{ spaces: Array<{ id: string; capacity?: number }> }>(`/api/v1/sites/${DPU_SITE}/topology`);
      expect(await p.page.locator('[data-testid="tiles"] .tile').count()).toBe(topo.spaces.length);
      for (const sp of topo.spaces) {
        const api = await apiJson<{ count: number }>(`/api/v1/sites/${DPU_SITE}/spaces/${sp.id}/count`);
        expect(toNumber(await textOf(p, `[data-testid="tiles"] [data-space="${sp.id}"] [data-role="count"]`)), sp.id).toBe(api.count);
        expect(await textOf(p, `[data-testid="tiles"] [data-space="${sp.id}"] [data-role="capacity"]`)).toBe(`/ ${sp.capacity}`);
      }
      const total = await apiJson<{ count: number }>(`/api/v1/sites/${DPU_SITE}/count`);
      expect(total.count).toBeGreaterThan(0);
      expect(toNumber(await textOf(p, '[data-testid="site-total"]'))).toBe(total.count);
      // the chart has its hour from the series API
      expect(await p.page.locator('[data-testid="occupancy-chart"] canvas').count()).toBeGreaterThan(0);
      expect(toNumber(await textOf(p, '[data-testid="now-vs-usual"] strong'))).toBe(total.count);

      const size = await p.page.evaluate(() => ({ sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight, w: innerWidth, h: innerHeight }));
      expect(size.sw).toBeLessThanOrEqual(size.w);
      expect(size.sh).toBeLessThanOrEqual(size.h);
      // without the live feed the wall reads the API and says so; data is not stale
      expect(await p.page.getAttribute('[data-testid="live-state"]', "data-state")).toBe("polling");
      expect(await p.page.isVisible('[data-testid="stale-banner"]')).toBe(false);
      await p.page.waitForTimeout(1500);
      await p.screenshot("wall-dpu-site");
      expect(p.unexpected()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("renders a space named <script>alert(1)</script> as text: visible, and no script runs", async () => {
    const p = await browser.open();
    try {
      await p.page.addInitScript(() => {
        (window as unknown as { __alerts: unknown[] }).__alerts = [];
        window.alert = (m?: unknown) => { (window as unknown as { __alerts: unknown[] }).__alerts.push(m); };
      });
      await p.page.goto(`${stack.apiUrl}/wall/${DPU_SITE}?key=${encodeURIComponent(dpuKey)}`);
      await p.page.waitForSelector('body[data-ready="true"]');
      const name = p.page.locator('[data-testid="tiles"] [data-space="xss-script"] [data-role="name"]');
      expect(await name.textContent()).toBe(SCRIPT_NAME);
      expect(await name.isVisible()).toBe(true);
      expect(await p.page.locator('[data-testid="tiles"] [data-space="xss-markup"] [data-role="name"]').textContent()).toBe(MARKUP_NAME);
      await p.page.waitForTimeout(1000);
      expect(await p.page.evaluate(() => (window as unknown as { __alerts: unknown[] }).__alerts)).toEqual([]);
      // the only script element is the page's bundle; no element came from a name
      expect(await p.page.evaluate(() => [...document.scripts].map((s) => new URL(s.src).pathname))).toEqual(["/wall/assets/wall.js"]);
      expect(await p.page.locator('img[src="x"]').count()).toBe(0);
      expect(p.unexpected()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("a floor-plan site: every space drawn in metres with the API's counts and camera counts, the cameras placed", async () => {
    const p = await openWall(PLAN_SITE, planKey);
    try {
      const { plan } = planRun;
      expect(await p.page.locator('[data-testid="plan"] polygon.space-shape').count()).toBe(plan.spaces.length);
      expect(await p.page.locator('[data-testid="plan"] [data-camera]').count()).toBe(plan.cameras.length);
      for (const sp of plan.spaces) {
        const dpu = await apiJson<{ count: number }>(`/api/v1/sites/${PLAN_SITE}/spaces/${sp.id}/count`);
        const cam = await apiJson<{ count: number }>(`/api/v1/sites/${PLAN_SITE}/zones/${sp.id}/occupancy`);
        const shown = p.page.locator(`[data-testid="plan"] [data-space="${sp.id}"]`);
        expect(toNumber(await shown.locator('[data-role="count"]').textContent()), sp.id).toBe(dpu.count);
        expect(await shown.locator('[data-role="name"]').textContent()).toBe(sp.name);
        expect(await shown.locator('[data-role="camera-count"]').textContent()).toMatch(new RegExp(`^${cam.count}\\b`));
        // where both count, the camera-vs-DPU panel lists both
        const row = p.page.locator(`[data-testid="camera-vs-dpu"] [data-space="${sp.id}"]`);
        expect(toNumber(await row.locator('[data-role="dpu"]').textContent())).toBe(dpu.count);
      }
      // the polygon is in metres: the viewBox spans the mall's 108 m
      const vb = (await p.page.getAttribute('[data-testid="plan"] svg.plan', "viewBox"))!.split(" ").map(Number);
      expect(vb[2]).toBeGreaterThan(108);
      expect(vb[2]).toBeLessThan(115);
      // no camera has a still: no tile, and no camera was asked for one
      expect(await p.page.isVisible('[data-testid="camera-tile"]')).toBe(false);
      await p.screenshot("wall-plan-site-live");
      expect(p.unexpected()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("the time slider shows the counts and the people of a past moment, and Live returns", async () => {
    const p = await openWall(PLAN_SITE, planKey);
    try {
      // late in the run, when most people are inside
      const target = planRun.startTs + 0.7 * (planRun.endTs - planRun.startTs);
      const back = Math.round((target - Math.floor(Date.now() / 60_000) * 60_000) / 60_000);
      await p.page.locator('[data-testid="time-slider"]').fill(String(back));
      await p.page.locator('[data-testid="time-slider"]').dispatchEvent("change");
      await p.page.waitForSelector('body[data-mode="history"][data-history-loaded="true"]');
      // the instant the slider stands for (whole minutes)
      const t = Number(await p.page.getAttribute("body", "data-at"));
      expect(t % 60_000).toBe(0);
      expect(t).toBeGreaterThan(planRun.startTs);
      expect(t).toBeLessThan(planRun.endTs);
      expect(await textOf(p, '[data-testid="time-label"]')).toMatch(/^\d\d:\d\d:00 \(\u2212\d+ min\)$/);
      expect(await p.page.getAttribute('[data-testid="live-state"]', "data-state")).toBe("history");

      for (const sp of planRun.plan.spaces) {
        const dpu = await apiJson<{ count: number }>(`/api/v1/sites/${PLAN_SITE}/spaces/${sp.id}/count?at=${t}`);
        expect(toNumber(await textOf(p, `[data-testid="plan"] [data-space="${sp.id}"] [data-role="count"]`)), sp.id).toBe(dpu.count);
      }
      const total = await apiJson<{ count: number }>(`/api/v1/sites/${PLAN_SITE}/count?at=${t}`);
      expect(toNumber(await textOf(p, '[data-testid="site-total"]'))).toBe(total.count);
      // people on the floor then, from their recorded paths
      const people = Number(await p.page.getAttribute("body", "data-people"));
      expect(people).toBeGreaterThan(0);
      expect(await p.page.locator('[data-testid="plan"] [data-person]').count()).toBe(people);
      await p.page.waitForTimeout(1000);
      const shot = await p.screenshot("wall-plan-site");
      expect(fs.existsSync(shot)).toBe(true);

      await p.page.click('[data-testid="live-button"]');
      await p.page.waitForSelector('body[data-mode="live"]');
      const now = await apiJson<{ count: number }>(`/api/v1/sites/${PLAN_SITE}/count`);
      await eventually("the live total is back", async () => toNumber(await textOf(p, '[data-testid="site-total"]')) === now.count, 10_000);
      expect(p.unexpected()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("the path explorer draws the paths matching 'upper = blue' with their distance statistics", async () => {
    const p = await openWall(PLAN_SITE, planKey);
    try {
      await p.page.click('[data-testid="explorer-toggle"]');
      await p.page.selectOption('[data-testid="path-explorer"] select[name="upper"]', "blue");
      await p.page.selectOption('[data-testid="path-explorer"] select[name="range"]', String(3_600_000));
      const clicked = Date.now();
      await p.page.click('[data-testid="explorer-show"]');
      await p.page.waitForSelector('[data-testid="explorer-result"] [data-role="headline"]', { timeout: 60_000 });
      // the same question to the API (every person of the run started within both ranges)
      const q = `site=${PLAN_SITE}&upper=blue&from=${clicked - 3_600_000 + 60_000}&to=${Date.now()}`;
      const stats = await apiJson<{ count: number; mean_m: number }>(`/api/v1/stats/distance?${q}`);
      const paths = await apiJson<{ items: Array<{ path: unknown[] }> }>(`/api/v1/paths?${q}&limit=200`);
      expect(stats.count).toBeGreaterThan(0);
      expect(toNumber(await textOf(p, '[data-testid="explorer-result"] [data-role="people"]'))).toBe(stats.count);
      expect(await textOf(p, '[data-testid="explorer-result"] [data-role="mean-distance"]')).toBe(`${Math.round(stats.mean_m)} m`);
      expect(await p.page.locator('[data-testid="plan"] [data-path]').count()).toBe(paths.items.filter((i) => i.path.length >= 2).length);
      await p.screenshot("wall-plan-site-explorer");
      await p.page.click('[data-testid="explorer-clear"]');
      expect(await p.page.locator('[data-testid="plan"] [data-path]').count()).toBe(0);
      expect(p.unexpected()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it('shows "stale since hh:mm:ss" when no data comes any more, and clears it when data is back', async () => {
    const p = await openWall(DPU_SITE, dpuKey);
    try {
      expect(await p.page.isVisible('[data-testid="stale-banner"]')).toBe(false);
      const before = Date.now();
      await p.context.setOffline(true);
      await p.page.waitForSelector('[data-testid="stale-banner"]', { state: "visible", timeout: 60_000 });
      const text = (await textOf(p, '[data-testid="stale-banner"]')) ?? "";
      const m = /stale since (\d\d):(\d\d):(\d\d)/.exec(text);
      expect(m, text).not.toBeNull();
      // the time named is when data last came, before the network went
      const d = new Date(before);
      const since = new Date(d.getFullYear(), d.getMonth(), d.getDate(), Number(m![1]), Number(m![2]), Number(m![3])).getTime();
      expect(since).toBeLessThanOrEqual(before + 1000);
      expect(["reconnecting", "connecting"]).toContain(await p.page.getAttribute('[data-testid="live-state"]', "data-state"));
      await p.context.setOffline(false);
      await p.page.waitForSelector('[data-testid="stale-banner"]', { state: "hidden", timeout: 60_000 });
    } finally {
      await p.close();
    }
  });

  it("lists the cameras that have a still (the broker keeps each camera's newest in KV ff_stills), to the site's keys only", async () => {
    const camera = planRun.plan.cameras[0]!.id;
    const nc = await connectNats(stack.cfg.natsUrl!, "wall-test-stills");
    try {
      const kv = await new Kvm(nc).open(KV_STILLS);
      const stills = (key: string) => fetch(`${stack.apiUrl}/wall/${PLAN_SITE}/stills.json`, { headers: { authorization: `Bearer ${key}` } });
      expect(await (await stills(planKey)).json()).toEqual({ site: PLAN_SITE, cameras: [] });
      await kv.put(`${PLAN_SITE}.${camera}`, new TextEncoder().encode('{"ts":1,"width":1280,"height":720}\n'));
      await kv.put(`${DPU_SITE}.not-this-site`, new TextEncoder().encode("{}\n"));
      await eventually("the still is listed", async () => JSON.stringify(await (await stills(planKey)).json()) === JSON.stringify({ site: PLAN_SITE, cameras: [camera] }), 15_000);
      expect((await stills(dpuKey)).status).toBe(403);
      expect((await fetch(`${stack.apiUrl}/wall/${PLAN_SITE}/stills.json`)).status).toBe(401);
      await kv.delete(`${PLAN_SITE}.${camera}`);
      await kv.delete(`${DPU_SITE}.not-this-site`);
      await eventually("the still is gone", async () => ((await (await stills(planKey)).json()) as { cameras: string[] }).cameras.length === 0, 15_000);
    } finally {
      await nc.close();
    }
  });

  it("saved a screenshot of each kind of site", () => {
    for (const name of ["wall-dpu-site", "wall-plan-site"]) expect(fs.existsSync(path.join(ARTIFACTS, `${name}.png`)), name).toBe(true);
  });
});
