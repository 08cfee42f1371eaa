import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { demoMall, planSecrets } from "../../firmware-sim/building.ts";
import { simulateWalkers } from "../../firmware-sim/walkers.ts";
import { runBuildingSim, runLiveDemo } from "../../firmware-sim/building-run.ts";
import { countsOfCrossings, DemoTruth } from "../../firmware-sim/demo-truth.ts";
import { AcknowledgedCrossing } from "../../contracts/demo-truth.ts";
import { eventually } from "../support/retry.ts";
import { startRecordingBroker, type RecordingBroker } from "./recording-broker.ts";

const quiet = pino({ level: "silent" });
const T0 = Date.UTC(2026, 3, 2, 8);

describe("a simulated building over MQTT against a real aedes broker", () => {
  const plan = demoMall("run-mall");
  const secrets = planSecrets(plan);
  let broker: RecordingBroker;
  let dataDir: string;

  beforeEach(async () => {
    broker = await startRecordingBroker(secrets);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-run-"));
  });
  afterEach(async () => {
    await broker.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("delivers every true crossing through its DPU: skewed clocks, duplicates, and an outage replayed in bulk", async () => {
    const outage = { device: "dpu-main-entrance", fromMs: 2 * 60_000, toMs: 6 * 60_000 };
    // the simulation is deterministic for its seed: the same walkers, hence the same total
    const expectedTotal = simulateWalkers({ plan, walkers: 80, durationMs: 10 * 60_000, startTs: T0, seed: 5 }).crossings.length;
    const progress: Array<[number, number]> = [];
    const r = await runBuildingSim({
      mqttUrl: broker.url, plan, secrets, walkers: 80, durationMs: 10 * 60_000, startTs: T0, seed: 5,
      duplicateRate: 0.1, maxSkewMs: 300, outage, dataDir, log: quiet,
      onProgress: (done, total) => { progress.push([done, total]); },
    });
    const truth = r.truth.crossings;
    expect(r.crossings).toBe(truth.length);
    expect(truth.length).toBe(expectedTotal);
    expect(progress.every(([, total]) => total === expectedTotal)).toBe(true);
    expect(progress.map(([done]) => done)).toEqual(Array.from({ length: expectedTotal }, (_, i) => i + 1));

    const seen = new Map<string, number>();
    for (const a of broker.arrivals) {
      const device = a.clientId;
      for (const e of a.events) {
        const m = new RegExp(`^${r.runTag}-(\\d+)$`).exec(e.id);
        expect(m, e.id).not.toBeNull();
        const c = truth[Number(m![1])]!;
        expect(c.device).toBe(device);
        expect(a.topic).toBe(`footfall/v1/run-mall/dpu/${device}/crossing`);
        expect(e.doorway).toBe(c.doorway);
        expect(e.delta).toBe(c.delta);
        expect(e.ts - c.ts).toBe(r.skews[device]);
        const offset = c.ts - T0;
        const inOutage = device === outage.device && offset >= outage.fromMs && offset < outage.toMs;
        expect(a.shape).toBe(inOutage ? "batch" : "single");
        seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
      }
    }
    expect(seen.size).toBe(truth.length); // every crossing arrived
    const copies = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(r.sent).toBe(copies);
    expect(r.duplicatesSent).toBe(copies - truth.length);
    expect(r.duplicatesSent).toBeGreaterThan(0);
    for (const skew of Object.values(r.skews)) expect(Math.abs(skew)).toBeLessThanOrEqual(300);
    expect(new Set(Object.values(r.skews)).size).toBeGreaterThan(1);

    const outageCrossings = truth.filter((c) => c.device === outage.device && c.ts - T0 >= outage.fromMs && c.ts - T0 < outage.toMs).length;
    expect(outageCrossings).toBeGreaterThan(0);
    expect(r.buffered).toBe(outageCrossings);
    expect(r.replayed).toBe(outageCrossings);
    for (const f of fs.readdirSync(dataDir)) expect(fs.readFileSync(path.join(dataDir, f), "utf8")).toBe("");
  });

  it("plays crossings at a given speed (simulated ms per real ms) and still delivers each one", async () => {
    const r = await runBuildingSim({
      mqttUrl: broker.url, plan, secrets, walkers: 10, durationMs: 60_000, startTs: T0, seed: 9,
      speed: 200, dataDir, log: quiet,
    });
    expect(r.crossings).toBeGreaterThan(0);
    expect(new Set(broker.ids())).toEqual(new Set(r.truth.crossings.map((_, i) => `${r.runTag}-${i}`)));
  });

  it("refuses to start without a secret for every DPU, or with an outage device that is not in the plan", async () => {
    const partial = { ...secrets };
    delete partial["dpu-books-door"];
    await expect(runBuildingSim({ mqttUrl: broker.url, plan, secrets: partial, walkers: 1, durationMs: 1000, startTs: T0, seed: 1, dataDir, log: quiet }))
      .rejects.toThrow(/no secret for dpu dpu-books-door/);
    await expect(runBuildingSim({ mqttUrl: broker.url, plan, secrets, walkers: 1, durationMs: 1000, startTs: T0, seed: 1, dataDir, log: quiet, outage: { device: "dpu-nope", fromMs: 0, toMs: 10 } }))
      .rejects.toThrow(/not a dpu of the plan/);
  });

  it("fails clearly when the broker refuses the DPUs' credentials", async () => {
    const wrong = Object.fromEntries(Object.keys(secrets).map((id) => [id, "not-the-secret"]));
    await expect(runBuildingSim({ mqttUrl: broker.url, plan, secrets: wrong, walkers: 1, durationMs: 1000, startTs: T0, seed: 1, dataDir, log: quiet }))
      .rejects.toThrow(/refused the credentials/);
  });

  it("the live demo records crossings as they happen until aborted", async () => {
    const abort = new AbortController();
    const doorwayOf = new Map(plan.dpus.map((d) => [d.id, d.doorway]));
    const demo = runLiveDemo({
      mqttUrl: broker.url, plan, secrets, dataDir, signal: abort.signal, seed: 3, log: quiet,
      arrivalsPerMinute: 600, walk: { minDwellMs: 50, meanDwellMs: 150 },
    });
    await eventually("walkers moving between spaces", () => broker.arrivals.length >= 40, 20_000, 50);
    abort.abort();
    const stats = await demo;
    expect(stats.walkers).toBeGreaterThan(0);
    expect(stats.crossings).toBeGreaterThanOrEqual(40);
    const spaceDoors = new Set(plan.doorways.filter((d) => d.entering_to !== "outside" && d.exiting_to !== "outside").map((d) => d.id));
    expect(broker.arrivals.some((a) => spaceDoors.has(a.events[0]!.doorway))).toBe(true);
    for (const a of broker.arrivals) {
      expect(a.shape).toBe("single");
      expect(a.events[0]!.doorway).toBe(doorwayOf.get(a.clientId));
    }
  });

  it("the live demo's ground truth: only crossings the broker acknowledged, each once; stopped with a drain, the DPUs first send what they hold", async () => {
    const truth = new DemoTruth(plan, path.join(dataDir, "truth"));
    const abort = new AbortController();
    let drainMs = 0;
    const demo = runLiveDemo({
      mqttUrl: broker.url, plan, secrets, dataDir, signal: abort.signal, seed: 4, log: quiet, duplicateRate: 0.3,
      arrivalsPerMinute: 600, walk: { minDwellMs: 50, meanDwellMs: 150 },
      onCrossing: (c, id) => truth.recorded(c.device, id),
      onAcked: (device, crossings) => truth.acknowledged(device, crossings),
      get drainMs() { return drainMs; },
    });
    await eventually("crossings acknowledged", () => truth.summary(Date.now()).acknowledged >= 20, 20_000, 50);
    // PUBACKs held back: published, recorded, not acknowledged
    broker.holdAcks();
    const published = broker.arrivals.length;
    await eventually("crossings published meanwhile", () => broker.arrivals.length >= published + 10, 20_000, 50);
    const held = truth.summary(Date.now());
    expect(held.unacknowledged).toBeGreaterThan(0);
    expect(held.acknowledged + held.unacknowledged).toBe(held.crossings);
    // stopped with a drain: the walkers stop, the DPUs wait for their PUBACKs
    drainMs = 20_000;
    abort.abort();
    // longer than a plain stop waits for what is in flight (1 s)
    await new Promise((r) => setTimeout(r, 1500));
    broker.releaseAcks();
    const stats = await demo;
    expect(stats.held).toBe(0);
    const t = await truth.write(Date.now());
    expect(t.unacknowledged).toBe(0);
    expect(t.acknowledged).toBe(t.crossings);
    // each distinct crossing that reached the broker once (second copies and replays are not counted again)
    const distinct = new Map<string, { doorway: string; delta: 1 | -1 }>();
    for (const a of broker.arrivals) for (const e of a.events) distinct.set(`${a.clientId}/${e.id}`, { doorway: e.doorway, delta: e.delta as 1 | -1 });
    expect(broker.arrivals.length).toBeGreaterThan(distinct.size); // there were second copies
    expect(t.acknowledged).toBe(distinct.size);
    expect({ spaces: t.spaces, site: t.site_total }).toEqual(countsOfCrossings(plan, distinct.values()));
    const journal = fs.readFileSync(truth.journalFile, "utf8").trim().split("\n").map((l) => AcknowledgedCrossing.parse(JSON.parse(l)));
    expect(journal).toHaveLength(t.acknowledged);
    expect(new Set(journal.map((c) => `${c.device}/${c.id}`)).size).toBe(journal.length);
  });

  it("counts by crossings: into a space from its doorway's exiting_to side on +1, the reverse on -1; the site by the doorways to outside", () => {
    const c = (doorway: string, delta: 1 | -1) => ({ doorway, delta });
    expect(countsOfCrossings(plan, [c("main-entrance", 1), c("main-entrance", 1), c("lobby-corridor", 1), c("food-court-lobby", -1), c("loading-exit", 1)]))
      .toEqual({ spaces: { lobby: 0, corridor: 1, "food-court": 1, books: 0, fashion: 0, electronics: -1, restrooms: 0 }, site: 1 });
    expect(() => countsOfCrossings(plan, [c("nowhere", 1)])).toThrow(/not in the plan/);
  });
});
