import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm } from "@nats-io/kv";
import { KEY_COOKIE } from "../../access/credential.ts";
import { KV_STILLS } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { LIVE_PATH, LIVE_PROTOCOL_VERSION, LiveClose } from "../../contracts/live-protocol.ts";
import { connectNats } from "../../infra/nats.ts";
import { buildWall } from "../../dashboards/wall/build.ts";
import { ARTIFACTS, launchChromium, type TestBrowser, type TestPage, type Tolerated } from "../support/browser.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { mosquittoPub } from "../e2e/mosquitto-clients.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";
import { createKey, MARKUP_NAME, SCRIPT_NAME, seedDpuSite, seedPlanSite, settledCount } from "./wall-fixture.ts";

/**
 * The wall in real Chromium (Debian's, through playwright-core) against the real stack
 * (nats-server, influxd, the MQTT broker, an actor host process, the API): a DPU-only site
 * (tiles) and a floor-plan site (the camera mall with DPUs on every doorway), filled through
 * MQTT and HTTP ingest with simulated people. The live feed's heartbeat is 1 s here, so a
 * silent feed is noticed after 3 s.
 */

const HEARTBEAT_MS = 1000;
/** While the API is down the browser reports its refused connections as console errors: expected then, and only then. */
const API_DOWN: Tolerated[] = [
  { why: "the API is stopped on purpose", matches: (p) => /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE/.test(p.text) },
  { why: "the live feed's socket cannot connect while the API is stopped", matches: (p) => /WebSocket connection to .* failed/.test(p.text) },
];

const DPU_SITE = "wall-dpus";
const PLAN_SITE = "wall-plan";

/** hh:mm:ss on the day of `near` (local time, as the page shows it) as epoch ms. */
function clockToday(near: number, m: RegExpExecArray): number {
  const d = new Date(near);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate(), Number(m[1]), Number(m[2]), Number(m[3])).getTime();
}

describe("the wall (real Chromium, nats-server, influxd, broker, actor host, API)", () => {
  let stack: TestStack;
  let browser: TestBrowser;
  let dpuKey: string;
  let planKey: string;
  let planRun: Awaited<ReturnType<typeof seedPlanSite>>;
  let dpuRun: Awaited<ReturnType<typeof seedDpuSite>>;
  let crossingNo = 0;

  beforeAll(async () => {
    await buildWall();
    stack = await startTestStack({ hosts: 1, partitions: 2, overrides: { liveHeartbeatMs: HEARTBEAT_MS } });
    dpuRun = await seedDpuSite(stack, DPU_SITE, { walkers: 300, minutes: 50, seed: 3 });
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
  const countSel = (space: string) => `[data-testid="tiles"] [data-space="${space}"] [data-role="count"]`;
  const liveState = (p: TestPage) => p.page.getAttribute('[data-testid="live-state"]', "data-state");
  /** Waits until the element's text, commas removed, is `n`. */
  const shows = (p: TestPage, selector: string, n: number, timeout = 30_000) =>
    p.page.waitForFunction(([sel, want]) => (document.querySelector(sel)?.textContent ?? "").replace(/,/g, "") === want, [selector, String(n)] as const, { timeout });

  /** The DPU site's entrance from outside: a crossing there changes its space and the site total. */
  const entrance = () => {
    const d = dpuRun.plan.doorways.find((x) => x.exiting_to === "outside")!;
    const dpu = dpuRun.plan.dpus.find((x) => x.doorway === d.id)!;
    return { doorway: d.id, space: d.entering_to, dpu: dpu.id, secret: dpuRun.secrets[dpu.id]! };
  };
  /** One crossing published by Debian's mosquitto_pub with the DPU's own credentials. */
  async function publishCrossing(delta: 1 | -1): Promise<void> {
    const e = entrance();
    const payload = JSON.stringify({ id: `wall-live-${++crossingNo}`, ts: Date.now(), doorway: e.doorway, delta });
    await mosquittoPub(stack.cfg.mqttPort, e.dpu, e.secret, deviceTopic(DPU_SITE, "dpu", e.dpu, "crossing"), payload, ["-i", e.dpu]);
  }

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
      // the live feed is current; data is not stale
      expect(await liveState(p)).toBe("live");
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

  it("a crossing published with mosquitto_pub (a DPU's credentials) changes the count on the wall", async () => {
    const p = await openWall(DPU_SITE, dpuKey);
    try {
      await p.page.waitForSelector('[data-testid="live-state"][data-state="live"]');
      const e = entrance();
      const space = toNumber(await textOf(p, countSel(e.space)));
      const total = toNumber(await textOf(p, '[data-testid="site-total"]'));
      await publishCrossing(1);
      await shows(p, countSel(e.space), space + 1);
      await shows(p, '[data-testid="site-total"]', total + 1);
      const api = await apiJson<{ count: number }>(`/api/v1/sites/${DPU_SITE}/spaces/${e.space}/count`);
      expect(api.count).toBe(space + 1);
      await publishCrossing(-1);
      await shows(p, countSel(e.space), space);
      await shows(p, '[data-testid="site-total"]', total);
      await p.screenshot("wall-dpu-site-live");
      expect(p.unexpected()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("the API restarted: the wall shows stale since hh:mm:ss and reconnecting, then reconnects by itself with the counts changed meanwhile", async () => {
    const p = await openWall(DPU_SITE, dpuKey);
    let down = false;
    try {
      await p.page.waitForSelector('[data-testid="live-state"][data-state="live"]');
      const opened = Date.now();
      const e = entrance();
      const space = toNumber(await textOf(p, countSel(e.space)));
      const total = toNumber(await textOf(p, '[data-testid="site-total"]'));
      const before = Date.now();
      down = true;
      await stack.stopApi();
      await p.page.waitForSelector('[data-testid="stale-banner"]', { state: "visible", timeout: 30_000 });
      const text = (await textOf(p, '[data-testid="stale-banner"]')) ?? "";
      const m = /stale since (\d\d):(\d\d):(\d\d)/.exec(text);
      expect(m, text).not.toBeNull();
      // the time named is the last moment the data was known current: after the page opened, before the API went
      const since = clockToday(before, m!);
      expect(since).toBeLessThanOrEqual(before + 1000);
      expect(since).toBeGreaterThanOrEqual(opened - 1000 - 2 * HEARTBEAT_MS);
      expect(["reconnecting", "connecting"]).toContain(await liveState(p));
      // two crossings while the page cannot hear of them
      await publishCrossing(1);
      await publishCrossing(1);
      await stack.startApi();
      down = false;
      await p.page.waitForSelector('[data-testid="live-state"][data-state="live"]', { timeout: 90_000 });
      await shows(p, countSel(e.space), space + 2);
      await shows(p, '[data-testid="site-total"]', total + 2);
      expect(await p.page.isVisible('[data-testid="stale-banner"]')).toBe(false);
      const api = await apiJson<{ count: number }>(`/api/v1/sites/${DPU_SITE}/spaces/${e.space}/count`);
      expect(api.count).toBe(space + 2);
      expect(p.unexpected(API_DOWN)).toEqual([]);
      await publishCrossing(-1);
      await publishCrossing(-1);
      await shows(p, countSel(e.space), space);
    } finally {
      if (down) await stack.startApi();
      await p.close();
    }
  });

  it('a feed that goes silent without closing (half-open): "stale since hh:mm:ss", the socket replaced, cleared when data is back', async () => {
    const proxy = await startTcpProxy(Number(new URL(stack.apiUrl).port));
    const p = await browser.open();
    try {
      const res = await p.page.goto(`http://127.0.0.1:${proxy.port}/wall/${DPU_SITE}?key=${encodeURIComponent(dpuKey)}`);
      expect(res?.status()).toBe(200);
      await p.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      await p.page.waitForSelector('[data-testid="live-state"][data-state="live"]');
      const opened = Date.now();
      // heartbeats keep a quiet site current
      await p.page.waitForTimeout(3 * HEARTBEAT_MS + 1000);
      expect(await liveState(p)).toBe("live");
      expect(await p.page.isVisible('[data-testid="stale-banner"]')).toBe(false);
      const before = Date.now();
      proxy.silence();
      await p.page.waitForSelector('[data-testid="stale-banner"]', { state: "visible", timeout: 60_000 });
      const m = /stale since (\d\d):(\d\d):(\d\d)/.exec((await textOf(p, '[data-testid="stale-banner"]')) ?? "");
      expect(m).not.toBeNull();
      const since = clockToday(before, m!);
      expect(since).toBeLessThanOrEqual(before + 1000);
      expect(since).toBeGreaterThanOrEqual(opened - 1000);
      // the silent socket was given up (its close never came)
      expect(["reconnecting", "connecting"]).toContain(await liveState(p));
      proxy.restore();
      await p.page.waitForSelector('[data-testid="stale-banner"]', { state: "hidden", timeout: 60_000 });
      await p.page.waitForSelector('[data-testid="live-state"][data-state="live"]', { timeout: 60_000 });
      expect(p.unexpected([{ why: "connections cut by the test's proxy", matches: (x) => /ERR_|WebSocket connection to .* failed/.test(x.text) }])).toEqual([]);
    } finally {
      await p.close();
      await proxy.close();
    }
  });

  it("a viewer key of another site is refused by the page (403) and by the live feed (4403)", async () => {
    const p = await openWall(DPU_SITE, dpuKey);
    try {
      // the page's own socket, with the cookie of a DPU-site key, asking for the plan site
      const closed = await p.page.evaluate(([path, v, site]) => new Promise<{ code: number; refusal: unknown }>((resolve) => {
        const ws = new WebSocket(`ws://${location.host}${path}`);
        let refusal: unknown = null;
        ws.onopen = () => ws.send(JSON.stringify({ v, op: "subscribe", site }));
        ws.onmessage = (ev) => { const m = JSON.parse(String(ev.data)) as { t: string }; if (m.t === "refused") refusal = m; };
        ws.onclose = (ev) => resolve({ code: ev.code, refusal });
      }), [LIVE_PATH, LIVE_PROTOCOL_VERSION, PLAN_SITE] as const);
      expect(closed.code).toBe(LiveClose.forbidden);
      expect(closed.refusal).toMatchObject({ t: "refused", code: LiveClose.forbidden, reason: expect.stringContaining(PLAN_SITE) });
      // the wall of the other site with the same cookie
      const other = await p.page.goto(`${stack.apiUrl}/wall/${PLAN_SITE}`);
      expect(other?.status()).toBe(403);
      expect(await p.page.textContent("body")).toContain("does not cover site");
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
