import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { AcknowledgedCrossing, DemoGroundTruth } from "../../contracts/demo-truth.ts";
import { STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import { buildWall } from "../../dashboards/wall/build.ts";
import { demoMall } from "../../firmware-sim/building.ts";
import { DEMO_SITE } from "../../firmware-sim/demo.ts";
import { countsOfCrossings } from "../../firmware-sim/demo-truth.ts";
import { connectNats } from "../../infra/nats.ts";
import { readServiceSecrets, withCredentials } from "../../infra/service-secrets.ts";
import { readStateFile } from "../../infra/state-file.ts";
import { ARTIFACTS, launchChromium, type TestBrowser, type TestPage } from "../support/browser.ts";
import { upClusterEnv } from "../support/up-cluster-env.ts";
import { eventually } from "../support/retry.ts";

/**
 * `footfall up --nodes 3 --demo` as a real process (three nats-servers, influxd, broker, actor
 * host, API, the simulated buildings and the camera agent), the demo mall's wall in real
 * Chromium, and one nats-server SIGKILLed while the demo runs: the one the API (and so the wall's
 * live feed) is connected to. The wall must keep moving; then the demo's walkers are stopped
 * (SIGUSR2), and every count, now and at instants before and after the kill, must equal the
 * crossings the broker acknowledged to the demo's DPUs.
 */

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");
const plan = demoMall(DEMO_SITE);

const processes = () => execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" }).split("\n")
  .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l)).filter((m) => m !== null)
  .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));

/** pid of the nats-server of cluster node n{i} under `dir` */
function natsPid(dir: string, node: number): number | undefined {
  return processes().find((p) => /nats-server$/.test(p.args.split(" ")[0]!) && p.args.includes(path.join(dir, "nats-cluster", `n${node}`)))?.pid;
}

/** the client ports of the nats-servers process `pid` holds connections to */
function natsPeersOf(pid: number, ports: number[]): number[] {
  const out = execFileSync("ss", ["-tnpH", "state", "established"], { encoding: "utf8" });
  const found = new Set<number>();
  for (const line of out.split("\n")) {
    if (!line.includes(`pid=${pid},`)) continue;
    const peer = /\s127\.0\.0\.1:(\d+)\s+users:/.exec(line);
    if (peer && ports.includes(Number(peer[1]))) found.add(Number(peer[1]));
  }
  return [...found];
}

interface WallReading { at: number; total: string; tiles: Record<string, string>; state: string; stale: boolean }

describe("footfall up --nodes 3 --demo: a nats-server SIGKILLed while the demo runs (real processes, real Chromium)", () => {
  let dataDir: string;
  let shots: string;
  let up: ChildProcess;
  let out = "";
  let err = "";
  let natsBase = 0;
  let apiUrl = "";
  let wallUrl = "";
  let viewerKey = "";
  let browser: TestBrowser;
  let wall: TestPage;
  let killedAt = 0;
  const readings: WallReading[] = [];

  beforeAll(async () => {
    await buildWall();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-up3-demo-"));
    // screenshots before and after the kill, and with the walkers stopped (replaced by the next run)
    shots = path.join(ARTIFACTS, "up-cluster-demo");
    fs.mkdirSync(shots, { recursive: true });
    let env: NodeJS.ProcessEnv;
    ({ env, natsBase } = await upClusterEnv(dataDir));
    up = spawn(process.execPath, [CLI, "up", "--nodes", "3", "--demo"], { env, stdio: ["ignore", "pipe", "pipe"] });
    up.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    up.stderr!.on("data", (d: Buffer) => { err += d.toString(); process.stderr.write(d); });
    await eventually("footfall up's banner", () => out.includes("Ctrl-C stops everything."), 110_000, 200);
    // the wall URL and viewer key exactly as the banner prints them
    const m = new RegExp(`(https?://\\S+)/wall/${DEMO_SITE}\\?key=(\\S+)`).exec(out);
    expect(m, out).not.toBeNull();
    [wallUrl, apiUrl, viewerKey] = [m![0], m![1]!, m![2]!];
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up.once("exit", r));
      up.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  const read = async (): Promise<WallReading> => ({
    at: Date.now(),
    ...(await wall.page.evaluate(() => {
      const banner = document.querySelector<HTMLElement>('[data-testid="stale-banner"]');
      return {
        total: document.querySelector('[data-testid="site-total"]')?.textContent ?? "",
        tiles: Object.fromEntries([...document.querySelectorAll('[data-testid="tiles"] [data-space]')]
          .map((t) => [t.getAttribute("data-space") ?? "", t.querySelector('[data-role="count"]')?.textContent ?? ""])),
        state: document.querySelector('[data-testid="live-state"]')?.getAttribute("data-state") ?? "",
        stale: banner !== null && banner.offsetParent !== null && !banner.hidden,
      };
    })),
  });
  const shown = (r: WallReading) => `${r.total} | ${plan.spaces.map((s) => r.tiles[s.id]).join(" ")}`;
  const apiCount = async (pathname: string): Promise<number> => {
    const r = await fetch(`${apiUrl}/api/v1/sites/${DEMO_SITE}${pathname}`, { headers: { authorization: `Bearer ${viewerKey}` } });
    expect(r.status, pathname).toBe(200);
    return ((await r.json()) as { count: number }).count;
  };
  const apiCounts = async (at?: number) => {
    const q = at === undefined ? "" : `?at=${new Date(at).toISOString()}`;
    const spaces: Record<string, number> = {};
    for (const s of plan.spaces) spaces[s.id] = await apiCount(`/spaces/${s.id}/count${q}`);
    return { spaces, site: await apiCount(`/count${q}`) };
  };

  it("starts without a process warning (one exit handler for all its children, not one each)", () => {
    expect(err).not.toContain("MaxListenersExceededWarning");
  });

  it("the wall keeps moving, live and never stale, when the nats-server its API is connected to is SIGKILLed", async () => {
    wall = await browser.open();
    const res = await wall.page.goto(wallUrl);
    expect(res?.status()).toBe(200);
    await wall.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(wall.page.url()).toBe(`${apiUrl}/wall/${DEMO_SITE}`);
    expect(await wall.page.locator('[data-testid="tiles"] .tile').count()).toBe(plan.spaces.length);

    // the demo moves the wall before the kill
    const first = await read();
    readings.push(first);
    await eventually("the wall's numbers change before the kill", async () => {
      const r = await read();
      readings.push(r);
      return shown(r) !== shown(first);
    }, 60_000, 500);
    await wall.page.screenshot({ path: path.join(shots, "1-before-kill.png") });

    // the node the API (and so the wall's live feed) is connected to
    const ports = [0, 1, 2].map((i) => natsBase + i);
    const api = processes().find((p) => p.ppid === up.pid && / api$/.test(p.args));
    expect(api, "the API process").toBeDefined();
    const peers = natsPeersOf(api!.pid, ports);
    expect(peers.length, "the API's NATS connections").toBeGreaterThan(0);
    const node = peers[0]! - natsBase + 1;
    const secrets = readServiceSecrets(dataDir)!;
    const nc = await connectNats(ports.map((p) => withCredentials(`nats://127.0.0.1:${p}`, secrets.nats)).join(","), "up-demo-test");
    const leader = (await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(STREAM_EVENTS)).cluster?.leader;
    await nc.close();
    const pid = natsPid(dataDir, node)!;
    console.log(`SIGKILL nats-server n${node} (pid ${pid}, port ${peers[0]}): the API's node; ${STREAM_EVENTS}'s leader was ${leader}`);
    killedAt = Date.now();
    process.kill(pid, "SIGKILL");

    // the numbers keep changing after the kill; follow the wall for 20 s
    const afterKill = await read();
    readings.push(afterKill);
    let moved = 0;
    let last = afterKill;
    while (Date.now() - killedAt < 20_000) {
      await new Promise((r) => setTimeout(r, 500));
      const r = await read();
      readings.push(r);
      if (shown(r) !== shown(last)) moved++;
      last = r;
    }
    await wall.page.screenshot({ path: path.join(shots, "2-after-kill.png") });
    const after = readings.filter((r) => r.at >= killedAt);
    /** the longest stretch (ms) in which the wall's numbers did not change */
    const longestStill = (rs: WallReading[]) => {
      let longest = 0;
      let since = rs[0]!;
      for (const r of rs) {
        if (shown(r) !== shown(since)) since = r;
        longest = Math.max(longest, r.at - since.at);
      }
      return longest;
    };
    console.log(`after the kill the wall's numbers stood still for at most ${longestStill(after)} ms at a time`);
    const notLive = after.filter((r) => r.state !== "live");
    console.log(`after the kill: ${after.length} readings, the numbers changed ${moved} times, not live in ${notLive.length} (${[...new Set(notLive.map((r) => r.state))].join(", ")}); `
      + `shown ${shown(afterKill)} -> ${shown(last)}; screenshots in ${shots}`);
    expect(moved, "the wall's numbers changed after the kill").toBeGreaterThan(0);
    expect(after.filter((r) => r.stale), "stale banner after the kill").toEqual([]);
    expect(last.state).toBe("live");
    // the node came back (supervised)
    await eventually(`nats-server n${node} restarted`, () => { const now = natsPid(dataDir, node); return now !== undefined && now !== pid; }, 30_000);
  });

  it("counts stay exact: once the walkers stop, the API and the wall equal the acknowledged crossings, now and at instants before and after the kill", async () => {
    expect(killedAt, "the kill ran").toBeGreaterThan(0);
    const truthFile = path.join(dataDir, "demo", "ground-truth.json");
    up.kill("SIGUSR2");
    let held: DemoGroundTruth | undefined;
    await eventually("the demo's ground truth", async () => (held = await readStateFile(truthFile, DemoGroundTruth)) !== undefined, 90_000, 250);
    const truth = held!;
    console.log(`ground truth: ${JSON.stringify(truth)}`);
    // every crossing a DPU recorded was acknowledged in the end: the comparison is exact
    expect(truth.unacknowledged).toBe(0);
    expect(truth.acknowledged).toBe(truth.crossings);
    const journal = fs.readFileSync(path.join(dataDir, "demo", "acknowledged.jsonl"), "utf8").trim().split("\n")
      .map((l) => AcknowledgedCrossing.parse(JSON.parse(l)));
    expect(journal).toHaveLength(truth.acknowledged);
    expect(new Set(journal.map((c) => `${c.device}/${c.id}`)).size).toBe(journal.length);
    const byJournal = countsOfCrossings(plan, journal);
    expect({ spaces: truth.spaces, site: truth.site_total }).toEqual(byJournal);
    // crossings acknowledged after the kill (each stamped when it happened)
    expect(journal.filter((c) => c.ts > killedAt + 1000).length, "crossings acknowledged after the kill").toBeGreaterThan(0);

    // now: the API once the actors caught up, and the wall
    let got = await apiCounts();
    await eventually("the API's counts settle on the ground truth", async () => {
      got = await apiCounts();
      return JSON.stringify(got) === JSON.stringify(byJournal);
    }, 60_000, 500).catch(() => undefined);
    expect(got).toEqual(byJournal);
    await wall.page.waitForFunction((want) => Object.entries(want).every(([space, n]) =>
      document.querySelector(`[data-testid="tiles"] [data-space="${space}"] [data-role="count"]`)?.textContent?.replace(/,/g, "") === String(n)),
    byJournal.spaces, { timeout: 30_000 }).catch(() => undefined);
    const final = await read();
    await wall.page.screenshot({ path: path.join(shots, "3-walkers-stopped.png") });
    expect(final.tiles).toEqual(Object.fromEntries(Object.entries(byJournal.spaces).map(([k, v]) => [k, String(v)])));
    expect(final.total.replace(/,/g, "")).toBe(String(byJournal.site));
    expect(final.stale).toBe(false);

    // history: at instants spread over the run (half before the kill, half after), each at least
    // 50 ms from every crossing's stamp (the stamps are the stored times; the margin only keeps an
    // instant off a crossing's own millisecond; the busy demo mall rarely pauses for long)
    const stamps = journal.map((c) => c.ts).sort((a, b) => a - b);
    const clear = (t: number) => !stamps.some((s) => Math.abs(s - t) <= 50);
    const pick = (from: number, to: number, n: number) => {
      const out: number[] = [];
      for (let k = 0; k < n; k++) {
        for (let t = Math.round(from + ((k + 0.5) * (to - from)) / n); t < to; t += 10) if (clear(t)) { out.push(t); break; }
      }
      return out;
    };
    const instants = [...pick(stamps[0]!, killedAt, 5), ...pick(killedAt, stamps[stamps.length - 1]!, 5)];
    expect(instants.filter((t) => t > killedAt).length, "instants after the kill").toBeGreaterThan(0);
    const mismatches: string[] = [];
    for (const t of instants) {
      const want = countsOfCrossings(plan, journal.filter((c) => c.ts <= t));
      const have = await apiCounts(t);
      if (JSON.stringify(have) !== JSON.stringify(want)) mismatches.push(`${new Date(t).toISOString()}: API ${JSON.stringify(have)}, truth ${JSON.stringify(want)}`);
    }
    expect(mismatches).toEqual([]);
    expect(wall.unexpected()).toEqual([]);
  });
});
