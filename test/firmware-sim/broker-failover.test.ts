/**
 * Several brokers: a device takes a list of broker URLs and fails over; any broker takes any
 * device; a device that reaches two brokers at once (a failover whose old connection is not yet
 * gone) never gets an event counted twice. Real nats-server, influxd, actor host, brokers over TCP.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { demoMall, toTopologyDoc } from "../../firmware-sim/building.ts";
import { DpuFirmware } from "../../firmware-sim/dpu-firmware.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { metricSum, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { eventually } from "../support/retry.ts";
import { runOccupancyScenario } from "../e2e/occupancy-scenario.ts";

describe("devices with several brokers (real services, two brokers on one JetStream)", { timeout: 240_000 }, () => {
  let stack: TestStack | undefined;
  let other: BrokerProcess | undefined;
  let proxy: TcpProxy | undefined;
  const fws: DpuFirmware[] = [];
  afterEach(async () => {
    for (const f of fws.splice(0)) await f.stop({ graceMs: 0 });
    await proxy?.close();
    await other?.kill();
    await stack?.stop();
    stack = undefined; other = undefined; proxy = undefined;
  });

  it("one device publishing the same crossings through two brokers at once is counted once", async () => {
    stack = await startTestStack({ hosts: 1 });
    other = await startBrokerProcess(stack.cfg);
    const site = "two-brokers";
    const plan = demoMall(site);
    const secrets = Object.fromEntries(plan.dpus.map((d) => [d.id, `secret-${d.id}`]));
    const put = await stack.admin("PUT", `/api/v1/sites/${site}/topology`, toTopologyDoc(plan, secrets));
    expect(put.status, await put.clone().text()).toBe(200);

    // the main entrance's DPU: +1 into the lobby, -1 out to the street
    const dpu = plan.dpus.find((d) => d.doorway === "main-entrance")!;
    const viaA = new DpuFirmware({ url: stack.mqttUrl, deviceId: dpu.id, secret: secrets[dpu.id]!, site, dataDir: path.join(stack.cfg.dataDir, "fw-a") });
    const viaB = new DpuFirmware({ url: other.mqttUrl, deviceId: dpu.id, secret: secrets[dpu.id]!, site, dataDir: path.join(stack.cfg.dataDir, "fw-b") });
    fws.push(viaA, viaB);
    for (const d of ["fw-a", "fw-b"]) fs.mkdirSync(path.join(stack.cfg.dataDir, d), { recursive: true });
    expect(await viaA.start()).toBe(true);
    expect(await viaB.start()).toBe(true);

    const base = Date.now() - 30 * 60_000;
    const crossings = Array.from({ length: 60 }, (_, i) => ({ id: `both-${i}`, ts: base + i * 1000, doorway: "main-entrance", delta: (i % 4 === 3 ? -1 : 1) as 1 | -1 }));
    // every crossing through both brokers at the same moment, the same event id
    await Promise.all(crossings.flatMap((c) => [viaA.record(c), viaB.record(c)]));
    await Promise.all([viaA.flush(), viaB.flush()]);
    expect(viaA.counters.sent + viaB.counters.sent).toBe(2 * crossings.length);

    // of every two copies exactly one was dropped: by JetStream (a copy stored on its own, within
    // the duplicate window) or by the doorway actor (a copy stored in a batch, which has no id)
    let dropped = 0;
    await eventually("every second copy dropped", async () => {
      dropped = (await metricSum(stack!.cfg.brokerOpsPort, "footfall_broker_duplicate_events_total"))
        + (await metricSum(other!.opsPort, "footfall_broker_duplicate_events_total"))
        + (await metricSum(stack!.hosts[0]!.opsPort, "footfall_actor_skipped_total", { kind: "doorway", reason: "duplicate" }));
      return dropped >= crossings.length;
    }, 30_000, 200).catch(() => undefined);
    expect(dropped).toBe(crossings.length);

    let running = 0;
    const truth = crossings.map((c) => ({ at: c.ts + 500, count: (running += c.delta) }));
    expect(running).toBe(30);
    const samples = truth.filter((_, i) => i % 6 === 5);
    let wrong: string[] = [];
    await eventually("the lobby's count at sampled instants equals ground truth", async () => {
      wrong = [];
      for (const s of samples) {
        const r = await stack!.fetch(`/api/v1/sites/${site}/spaces/lobby/count?at=${new Date(s.at).toISOString()}`);
        const { count } = (await r.json()) as { count: number };
        if (count !== s.count) wrong.push(`${new Date(s.at).toISOString()}: got ${count}, truth ${s.count}`);
      }
      return wrong.length === 0;
    }, 60_000, 500).catch((e) => { throw new Error(`${(e as Error).message}\n${wrong.join("\n")}`); });
  });

  it("a broker SIGKILLed mid-stream: the DPUs continue on the next broker of their list, every crossing counted once", async () => {
    stack = await startTestStack({ hosts: 1 });
    const b = other = await startBrokerProcess(stack.cfg);
    let acceptedBeforeKill = 0;
    await runOccupancyScenario(stack, {
      site: "failover-kill", seed: 21,
      // the broker process first: every DPU starts there
      mqttUrl: `${b.mqttUrl},${stack.mqttUrl}`,
      midRun: async () => {
        acceptedBeforeKill = await metricSum(b.opsPort, "footfall_broker_publishes_accepted_total");
        await b.kill();
      },
    });
    expect(acceptedBeforeKill).toBeGreaterThan(0);
    expect(await metricSum(stack.cfg.brokerOpsPort, "footfall_broker_publishes_accepted_total")).toBeGreaterThan(0);
  });

  it("a broker that goes silent (half-open connections, no PUBACK) is left for the next one after the ack timeout", async () => {
    stack = await startTestStack({ hosts: 1 });
    other = await startBrokerProcess(stack.cfg);
    const p = proxy = await startTcpProxy(other.mqttPort);
    const o = other;
    let acceptedBeforeSilence = 0;
    const result = await runOccupancyScenario(stack, {
      site: "failover-silent", seed: 22,
      mqttUrl: `mqtt://127.0.0.1:${p.port},${stack.mqttUrl}`,
      ackTimeoutMs: 1500,
      midRun: async () => {
        acceptedBeforeSilence = await metricSum(o.opsPort, "footfall_broker_publishes_accepted_total");
        p.silence();
      },
    });
    expect(acceptedBeforeSilence).toBeGreaterThan(0);
    // they left because their publishes went unacknowledged (not because the connection dropped)
    expect(result.ackTimeouts).toBeGreaterThan(0);
    expect(await metricSum(stack.cfg.brokerOpsPort, "footfall_broker_publishes_accepted_total")).toBeGreaterThan(0);
  });
});
