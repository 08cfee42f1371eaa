/**
 * TLS with the operator's certificate (FOOTFALL_TLS_CERT / FOOTFALL_TLS_KEY): a CA and a server
 * certificate made by Debian's openssl; Debian's mosquitto_pub and curl as the clients an
 * operator would use; plain MQTT and plain HTTP refused; the simulator's DPU firmware, the
 * camera's MQTT uplink and its chunk upload refuse a server whose certificate does not verify.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceTopic } from "../../contracts/topics.ts";
import type { ChunkMeta } from "../../contracts/video.ts";
import { runGateway, type RunningGateway } from "../../dashboards/gateway/main.ts";
import { DpuFirmware } from "../../firmware-sim/dpu-firmware.ts";
import { waitOnline } from "../../firmware-sim/firmware-online.ts";
import { ConfigError, loadConfig } from "../../infra/config.ts";
import { serverTlsOf } from "../../infra/tls.ts";
import { CameraUplink } from "../../video/agent/camera-uplink.ts";
import { putChunk } from "../../video/agent/upload-request.ts";
import { freePort } from "../support/ports.ts";
import { eventually } from "../support/retry.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { makeTestPki, type TestPki } from "../support/tls.ts";

const run = promisify(execFile);

/** exit code and output of a command that may fail */
async function attempt(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(cmd, args, { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

describe("TLS required: mqtts:// and https:// with the operator's certificate, plain refused", () => {
  let stack: TestStack;
  let pki: TestPki;
  let dir: string;
  const topic = deviceTopic("shop", "dpu", "dpu-front", "crossing");
  const viewer = { key: "" };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-tls-"));
    pki = await makeTestPki(dir);
    stack = await startTestStack({
      hosts: 1,
      overrides: { tlsCert: pki.cert, tlsKey: pki.key, tlsCa: pki.ca, mqttsPort: await freePort() },
    });
    const r = await stack.admin("PUT", "/api/v1/sites/shop/topology", {
      spaces: [{ id: "floor", name: "Shop floor" }],
      doorways: [{ id: "front", entering_to: "floor", exiting_to: "outside" }, { id: "back", entering_to: "floor", exiting_to: "outside" }],
      devices: [
        { id: "dpu-front", kind: "dpu", doorway: "front", secret: "front-door-secret" },
        { id: "dpu-sim", kind: "dpu", doorway: "back", secret: "sim-door-secret" },
      ],
    });
    expect(r.status).toBe(200);
    const k = await stack.admin("POST", "/api/v1/keys", { role: "viewer", sites: ["shop"], name: "tls test" });
    expect(k.status).toBe(201);
    viewer.key = ((await k.json()) as { key: string }).key;
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const curlCount = async (extra: string[] = []) => attempt("curl", [
    "-sS", "--fail-with-body", "--cacert", pki.ca, "-H", `Authorization: Bearer ${viewer.key}`,
    `${stack.apiUrl}/api/v1/sites/shop/spaces/floor/count`, ...extra,
  ]);
  const count = async (): Promise<number> => {
    const r = await curlCount();
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { count: number }).count;
  };
  const pubArgs = (port: number, id: string) => [
    "-h", "127.0.0.1", "-p", String(port), "-i", `${id}-${Math.random().toString(36).slice(2, 8)}`,
    "-u", "dpu-front", "-P", "front-door-secret", "-q", "1", "-t", topic,
    "-m", JSON.stringify({ id, ts: Date.now() - 1000, doorway: "front", delta: 1 }),
  ];

  it("the API is served over HTTPS: curl --cacert with a viewer key reads a count", async () => {
    expect(stack.apiUrl).toMatch(/^https:\/\//);
    expect(await count()).toBe(0);
    // a client that trusts another CA is refused by curl itself
    const wrong = await curlCount(["--cacert", pki.wrongCa]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/certificate/i);
  });

  it("mosquitto_pub --cafile publishes a crossing over TLS and it is counted", async () => {
    const r = await attempt("mosquitto_pub", [...pubArgs(stack.cfg.mqttsPort, "tls-1"), "--cafile", pki.ca]);
    expect(r.code, r.stderr).toBe(0);
    await eventually("the TLS crossing is counted", async () => (await count()) === 1, 30_000);
  });

  it("plain MQTT is refused: on the TLS port (failed handshake, counted) and on the plain port (nothing listens); nothing is stored", async () => {
    const onTlsPort = await attempt("mosquitto_pub", pubArgs(stack.cfg.mqttsPort, "plain-1"));
    expect(onTlsPort.code).not.toBe(0);
    const onPlainPort = await attempt("mosquitto_pub", pubArgs(stack.cfg.mqttPort, "plain-2"));
    expect(onPlainPort.code).not.toBe(0);
    expect(onPlainPort.stderr).toMatch(/refused/i);
    // mosquitto_pub trusting another CA does not send its credentials either
    const wrongCa = await attempt("mosquitto_pub", [...pubArgs(stack.cfg.mqttsPort, "plain-3"), "--cafile", pki.wrongCa]);
    expect(wrongCa.code).not.toBe(0);
    await eventually("the refused handshakes are counted", async () => {
      const m = await (await fetch(`http://127.0.0.1:${stack.cfg.brokerOpsPort}/metrics`)).text();
      const n = Number(/footfall_broker_refused_total\{[^}]*reason="tls_handshake"[^}]*\} (\d+)/.exec(m)?.[1] ?? 0);
      return n >= 2;
    }, 10_000);
    // a publish that would be counted, afterwards over TLS: the count then shows the plain ones were not stored
    const after = await attempt("mosquitto_pub", [...pubArgs(stack.cfg.mqttsPort, "tls-2"), "--cafile", pki.ca]);
    expect(after.code, after.stderr).toBe(0);
    await eventually("the second TLS crossing is counted", async () => (await count()) === 2, 30_000);
    expect(await count()).toBe(2);
  });

  it("plain HTTP is refused on the API port", async () => {
    const plain = await attempt("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${new URL(stack.apiUrl).port}/healthz`]);
    expect(plain.code).not.toBe(0);
    expect(plain.stdout).toBe("000");
  });

  it("the simulator's DPU firmware connects with the right CA and publishes; with the wrong CA it is refused", async () => {
    const buffers = path.join(dir, "buffers");
    const good = new DpuFirmware({
      url: stack.mqttUrl, ca: fs.readFileSync(pki.ca), deviceId: "dpu-sim", secret: "sim-door-secret", site: "shop", dataDir: buffers,
    });
    const bad = new DpuFirmware({
      url: stack.mqttUrl, ca: fs.readFileSync(pki.wrongCa), deviceId: "dpu-front", secret: "front-door-secret", site: "shop", dataDir: buffers,
      reconnectMinMs: 200,
    });
    try {
      await good.start();
      await waitOnline([good], 15_000, stack.mqttUrl);
      await good.record({ id: "sim-1", ts: Date.now() - 500, doorway: "back", delta: 1 });
      await good.flush();
      await eventually("the simulator's crossing is counted", async () => (await count()) === 3, 30_000);

      expect(await bad.start()).toBe(false);
      await expect(waitOnline([bad], 15_000, stack.mqttUrl)).rejects.toThrow(/certificate that does not verify/);
      expect(bad.counters.untrusted).toBeGreaterThan(0);
      expect(bad.counters.sent).toBe(0);
    } finally {
      await good.stop();
      await bad.stop();
    }
  });

  it("the camera's MQTT uplink refuses a broker whose certificate does not verify; with the right CA it reaches the CONNACK", async () => {
    const uplink = (ca: string) => new CameraUplink({
      url: stack.mqttUrl, ca: fs.readFileSync(ca), deviceId: "cam-unknown", secret: "not-registered", site: "shop",
      fps: 5, width: 640, height: 480, reconnectPeriodMs: 60_000,
    });
    const wrong = uplink(pki.wrongCa);
    try {
      expect(await wrong.start()).toBe(false);
      expect(wrong.counters.untrusted).toBeGreaterThan(0);
      expect(wrong.counters.refused).toBe(0); // it never got as far as sending its credentials
    } finally {
      await wrong.stop({ graceMs: 200 });
    }
    const right = uplink(pki.ca);
    try {
      expect(await right.start()).toBe(false);
      expect(right.counters.untrusted).toBe(0);
      expect(right.counters.refused).toBe(1); // TLS passed: the broker answered (an unknown camera)
    } finally {
      await right.stop({ graceMs: 200 });
    }
  });

  it("the camera agent's chunk upload over HTTPS refuses a server whose certificate does not verify", async () => {
    const file = path.join(dir, "chunk-00000000.mp4");
    fs.writeFileSync(file, Buffer.alloc(1000, 1));
    const meta = { v: 1, camera: "cam-unknown", seq: 0, file: "chunk-00000000.mp4", bytes: 1000 } as unknown as ChunkMeta;
    const put = (ca: string) => putChunk({ api: stack.apiUrl, secret: "x", meta, file, agent: new https.Agent({ ca: fs.readFileSync(ca) }) });
    const wrong = await put(pki.wrongCa);
    expect(wrong).toMatchObject({ kind: "retry", error: "network" });
    expect((wrong as { reason: string }).reason).toMatch(/certificate/i);
    // with the right CA the server answers (this camera is unknown: a 4xx, not a network error)
    const right = await put(pki.ca);
    expect(right.kind).toBe("permanent");
    expect((right as { status?: number }).status).toBeGreaterThanOrEqual(400);
  });

  it("footfall gateway serves /healthz and the live feed over HTTPS only", async () => {
    let gw: RunningGateway | undefined;
    try {
      gw = await runGateway({ ...stack.cfg, gatewayPort: await freePort(), logLevel: "warn" });
      const url = `https://127.0.0.1:${gw.port}/healthz`;
      await eventually("the gateway answers healthy over HTTPS", async () => {
        const r = await attempt("curl", ["-sS", "--cacert", pki.ca, "-o", "/dev/null", "-w", "%{http_code}", url]);
        return r.stdout === "200";
      }, 30_000);
      const plain = await attempt("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${gw.port}/healthz`]);
      expect(plain.code).not.toBe(0);
      expect(plain.stdout).toBe("000");
    } finally {
      await gw?.stop();
    }
  });

  it("a certificate without its key, or a key that is not the certificate's, stops the process from starting", () => {
    const cfg = loadConfig({ tlsCert: pki.cert });
    expect(() => serverTlsOf(cfg)).toThrow(ConfigError);
    expect(() => serverTlsOf(loadConfig({ tlsCert: pki.wrongCa, tlsKey: pki.key }))).toThrow(/matching key/);
    expect(serverTlsOf(loadConfig({ tlsCert: pki.cert, tlsKey: pki.key }))?.cert.length).toBeGreaterThan(0);
  });
});
