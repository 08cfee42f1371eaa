/**
 * The whole chain on real footage: vtest.avi (opencv-doc's 768x576 pedestrian clip, an elevated
 * view of a plaza) -> `footfall agent detect` as a child process (ffmpeg, NanoDet ONNX,
 * garment colours) -> MQTT (QoS 1) -> the aedes broker -> JetStream -> camera actor (tracking,
 * floor positions through the calibration) -> linker -> person-track actors -> InfluxDB -> the
 * HTTP API. Real nats-server, influxd, broker, API and an actor host process; nothing simulated
 * but the time: the first 45 s of the clip are read as fast as the detector goes, with a start
 * time ~50 s in the past, so frame time runs from then on at the clip's own pace (the annotated
 * instants are at 1, 12, 25 and 40 s; the 5 s after the last one let the end of the stream,
 * which the actors release last, lie beyond it).
 *
 * The camera's calibration is an approximate homography of the plaza: the image's bottom edge
 * (y = 576) is 11 m of floor, the row y = 90 (the far path below the building) 22 m, 15 m further
 * away. One zone covers the floor.
 *
 * Asserted through the API: the camera's health while it runs (online, its resolution and fps
 * from the heartbeats, frames and detections per second) and after it stopped (offline, as it
 * announced); every frame it published was tracked (camera_stats, exactly); person tracks exist,
 * and at each hand-annotated instant of the clip (test/media/vtest-annotations.json) the number
 * of tracks alive lies between half the clearly visible annotated people (the detector's recall
 * floor in test/models) and one and a half times all annotated people (fragments and duplicates
 * allowed, no more); every track has upper and lower colours, a finite positive distance and a
 * path on the floor; /stats/distance agrees with the tracks; an attribute query (upper=<the most
 * common colour>) returns exactly the tracks with that colour. A summary of the tracks is printed.
 *
 * Also: SIGTERM stops agent detect cleanly (frames in flight acknowledged, state written) and a
 * restart continues seq from its state file, with every frame of both runs tracked and none late;
 * bad options and a missing secret exit 2 with the reason.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSeqState } from "../../video/detect/detect-seq.ts";
import { COLOURS } from "../../contracts/detection.ts";
import { TrackUpdate } from "../../contracts/events.ts";
import { STREAM_EVENTS, trackEventSubject } from "../../contracts/nats-layout.ts";
import { jpegSize } from "../../contracts/still.ts";
import { connectNats } from "../../infra/nats.ts";
import type { TopologyDocIn } from "../../contracts/topology.ts";
import { CameraUplink } from "../../video/agent/camera-uplink.ts";
import { PLAZA_CALIBRATION, PLAZA_FLOOR, PLAZA_SPACE, plazaTopology } from "../../firmware-sim/vtest-plaza.ts";
import { influxClient } from "../../infra/provision.ts";
import { loadVtestAnnotations } from "../models/detection-accuracy.ts";
import { hasVtest, VTEST_AVI, VTEST_HEIGHT, VTEST_WIDTH } from "../models/frames.ts";
import { eventually } from "../support/retry.ts";
import { readSubject } from "../support/stream-read.ts";
import { agentArgs } from "../video/agent-cli.ts";
import { freePort } from "../support/ports.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const NO_VTEST = !hasVtest();
if (NO_VTEST) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)");

const SITE = "plaza-vtest";
const CAMERA = "cam-plaza";
const SECRET = "plaza-camera-secret";
const ZONE = PLAZA_SPACE;
const CLIP_S = 45; // the annotated instants 1, 12, 25 and 40 s, and 5 s after the last (the end of a stream is released last)
const FPS = 5;

const CALIBRATION = PLAZA_CALIBRATION;
const FLOOR = PLAZA_FLOOR;

const topology: TopologyDocIn = plazaTopology(CAMERA, SECRET);

interface PathItem {
  person: string;
  start: string;
  end: string;
  distance_m: number;
  attributes: Record<string, { value: string; conf: number }>;
  path: Array<[number, number, number]>;
  tracklets: Array<{ tid: string; camera: string; from: number; to: number }>;
  visits: Array<{ space: string }>;
}
interface CameraHealth {
  camera: string;
  state: string;
  fps: number;
  detections_per_s: number;
  reported_fps: number | null;
  resolution: [number, number] | null;
}
interface StopSummary {
  msg: string;
  reason: string;
  sampled: number;
  processed: number;
  detections: number;
  published: number;
  failed: number;
  first_seq: number;
  next_seq: number;
  [k: string]: unknown;
}

/** agent detect as a child process; `done` resolves with its exit code and its last log line ("detection stopped"). */
function startDetectMain(args: string[], secret: string) {
  const child = spawn(process.execPath, agentArgs("detect", ...args), {
    cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: secret, FOOTFALL_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "inherit"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => { out += s; });
  const done = new Promise<{ code: number | null; summary: StopSummary }>((resolve, reject) => child.once("exit", (code) => {
    process.off("exit", killOnExit);
    const lines = out.trim().split("\n").flatMap((l) => { try { return [JSON.parse(l) as StopSummary]; } catch { return []; } });
    const summary = lines.filter((l) => l.msg === "detection stopped").at(-1);
    if (!summary) reject(new Error(`agent detect gave no summary (exit ${code}):\n${out.slice(-2000)}`));
    else resolve({ code, summary });
  }));
  return { child, done, running: () => child.exitCode === null && child.signalCode === null };
}

/** waits until the camera can log in (the broker's device registry follows KV) */
async function cameraCanLogIn(mqttUrl: string, site: string, camera: string, secret: string): Promise<void> {
  await eventually(`camera ${camera} known to the broker`, async () => {
    const probe = new CameraUplink({ url: mqttUrl, deviceId: camera, clientId: `${camera}.probe`, secret, site, fps: FPS, width: VTEST_WIDTH, height: VTEST_HEIGHT });
    const ok = await probe.start();
    await probe.stop({ graceMs: 500 });
    return ok;
  }, 20_000, 300);
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }>;
/** an API path, read with the stack's admin token */
async function getJson<T>(stack: TestStack, path: string): Promise<{ status: number; body: T }>;
async function getJson<T>(a: string | TestStack, path?: string): Promise<{ status: number; body: T }> {
  const r = typeof a === "string" ? await fetch(a).catch(() => fetch(a)) : await a.fetch(path!);
  return { status: r.status, body: (await r.json()) as T };
}

describe.skipIf(NO_VTEST)("video chain: vtest.avi -> agent detect -> MQTT -> actors -> HTTP API (real services)", () => {
  let stack: TestStack;
  let startMs: number;
  let summary: StopSummary;
  let exitCode: number | null;
  let whileRunning: CameraHealth | undefined;
  let items: PathItem[] = [];
  /** the camera's newest still, fetched as soon as agent detect exited */
  let lastStill: { status: number; type: string | null; at: string | null; frame: [string | null, string | null]; jpeg: Buffer } | undefined;
  const range = () => `site=${SITE}&from=${startMs}&to=${startMs + CLIP_S * 1000}`;

  beforeAll(async () => {
    stack = await startTestStack({ hosts: 1, partitions: 1 });
    const put = await stack.admin("PUT", `/api/v1/sites/${SITE}/topology`, topology);
    expect(put.status).toBe(200);
    await cameraCanLogIn(stack.mqttUrl, SITE, CAMERA, SECRET);

    // frame time: the clip ends ~5 s before the agent starts, whole seconds
    startMs = Math.floor((Date.now() - (CLIP_S + 5) * 1000) / 1000) * 1000;
    const agent = startDetectMain([
      "--camera", CAMERA, "--site", SITE, "--mqtt", stack.mqttUrl, "--source", VTEST_AVI,
      "--duration", String(CLIP_S), "--fps", String(FPS), "--start-ms", String(startMs), "--threads", "2", "--status-every", "1",
    ], SECRET);
    // the camera's health while it runs: heartbeats every second
    while (agent.running() && !whileRunning) {
      const r = await getJson<{ cameras: CameraHealth[] }>(stack, `/api/v1/sites/${SITE}/cameras`).catch(() => undefined);
      const cam = r?.body.cameras?.find((c) => c.camera === CAMERA);
      if (cam && cam.state === "online" && cam.resolution !== null && cam.fps > 0) whileRunning = cam;
      else await new Promise((res) => setTimeout(res, 500));
    }
    ({ code: exitCode, summary } = await agent.done);
    const r = await stack.fetch(`/api/v1/sites/${SITE}/cameras/${CAMERA}/still`);
    lastStill = {
      status: r.status, type: r.headers.get("content-type"), at: r.headers.get("x-still-at"),
      frame: [r.headers.get("x-still-frame-width"), r.headers.get("x-still-frame-height")], jpeg: Buffer.from(await r.arrayBuffer()),
    };

    // every published frame tracked, then the tracks settle (the end of the stream is released in
    // steps: the camera's reorder buffer, the linker's merge, the person actors' write throttle)
    const influx = influxClient(stack.cfg.influxUrl!, stack.cfg.influxDb);
    await eventually("every frame tracked", async () => {
      const rows = await influx.query(`SELECT sum("frames") AS frames FROM "camera_stats" WHERE "site" = '${SITE}'`);
      return (rows[0] as { frames?: number } | undefined)?.frames === summary.published;
    }, 60_000, 500);
    let last2 = "", same = 0;
    await eventually("person tracks settled", async () => {
      const r = await getJson<{ items: PathItem[]; next_cursor: string | null }>(stack, `/api/v1/paths?${range()}&limit=1000`);
      if (r.status !== 200) return false;
      const now = JSON.stringify(r.body.items.map((p) => [p.person, p.end, p.distance_m]).sort());
      same = now === last2 && r.body.items.length > 0 ? same + 1 : 0;
      last2 = now;
      items = r.body.items;
      expect(r.body.next_cursor).toBeNull();
      return same >= 3;
    }, 60_000, 2000);

  }, 150_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("agent detect published every frame of the clip, acknowledged, with a continuous seq", () => {
    console.log(`agent detect: ${JSON.stringify(summary)}`);
    expect(exitCode).toBe(0);
    expect(summary.reason).toBe("end");
    expect(summary.sampled).toBe(CLIP_S * FPS);
    expect(summary.processed).toBe(summary.sampled); // no motion gate
    expect(summary.published).toBe(summary.processed);
    expect(summary.failed).toBe(0);
    expect(summary.next_seq - summary.first_seq).toBe(summary.published);
  });

  it("the camera health route saw the camera online with its heartbeats, then offline after its clean stop", async () => {
    expect(whileRunning).toBeDefined();
    expect(whileRunning!.resolution).toEqual([VTEST_WIDTH, VTEST_HEIGHT]);
    expect(whileRunning!.reported_fps).toBe(FPS);
    expect(whileRunning!.detections_per_s).toBeGreaterThan(0);
    const r = await getJson<{ cameras: CameraHealth[] }>(stack, `/api/v1/sites/${SITE}/cameras`);
    const cam = r.body.cameras.find((c) => c.camera === CAMERA)!;
    expect(cam.state).toBe("offline");
    // frames and detections of the last minute of wall time, as seen while it ran (by now the
    // clip's frame times, which end before the agent started, may have left that minute)
    expect(whileRunning!.fps).toBeLessThanOrEqual(FPS);
    const perFrame = whileRunning!.detections_per_s / whileRunning!.fps;
    const ann = loadVtestAnnotations().frames.filter((a) => a.seconds <= CLIP_S);
    // detections per frame: between half the fewest clearly visible and 1.5 x the most annotated people
    expect(perFrame).toBeGreaterThanOrEqual(Math.min(...ann.map((a) => a.people.filter((p) => !p.hard).length)) / 2);
    expect(perFrame).toBeLessThanOrEqual(1.5 * Math.max(...ann.map((a) => a.people.length)));
  });

  it("the camera tile's data: the newest still (a JPEG of a frame of the run) and every track.update with the boxes of its tracks", async () => {
    // a still every 3 s of frame time (the default), at most one being sent at a time
    expect(summary.stills).toMatchObject({ failed: 0 });
    const acked = (summary.stills as { acked: number }).acked;
    expect(acked).toBeGreaterThanOrEqual(1);
    expect(acked).toBeLessThanOrEqual(CLIP_S / 3);
    expect(lastStill).toMatchObject({ status: 200, type: "image/jpeg", frame: [String(VTEST_WIDTH), String(VTEST_HEIGHT)] });
    expect(jpegSize(lastStill!.jpeg)).toEqual({ width: 640, height: 480 });
    // the capture time is the frame time of one of the run's frames (start + k / 5 s)
    const at = Date.parse(lastStill!.at!) - startMs;
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(CLIP_S * 1000);
    expect(at % (1000 / FPS)).toBe(0);

    // the camera's track.update events, read back from FF_EVENTS
    const updates: TrackUpdate[] = [];
    const nc = await connectNats(stack.cfg.natsUrl!, "video-chain-events");
    try {
      for (const m of await readSubject(nc, STREAM_EVENTS, trackEventSubject(SITE, CAMERA))) updates.push(TrackUpdate.parse(m.json()));
    } finally {
      await nc.close();
    }
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) {
      expect(u.boxes!.length).toBeGreaterThan(0);
      // every track with a floor position has its box; boxes are source pixels inside the frame
      for (const [tid] of u.tracks) expect(u.boxes!.some((b) => b[0] === tid)).toBe(true);
      for (const [, x1, y1, x2, y2] of u.boxes!) {
        expect(0 <= x1 && x1 < x2 && x2 <= VTEST_WIDTH).toBe(true);
        expect(0 <= y1 && y1 < y2 && y2 <= VTEST_HEIGHT).toBe(true);
      }
    }
  });

  it("person tracks exist, and at every annotated instant about as many are alive as the annotations show", () => {
    expect(items.length).toBeGreaterThan(0);
    const ann = loadVtestAnnotations().frames.filter((a) => a.seconds <= CLIP_S);
    expect(ann.length).toBeGreaterThanOrEqual(3);
    const rows: string[] = [];
    for (const a of ann) {
      const at = startMs + a.seconds * 1000;
      const alive = items.filter((p) => Date.parse(p.start) <= at && at <= Date.parse(p.end)).length;
      const clear = a.people.filter((p) => !p.hard).length;
      rows.push(`${a.seconds}s: ${alive} tracks alive, annotated ${clear} (+${a.people.length - clear} hard)`);
    }
    console.log(rows.join("; "));
    for (const a of ann) {
      const at = startMs + a.seconds * 1000;
      const alive = items.filter((p) => Date.parse(p.start) <= at && at <= Date.parse(p.end)).length;
      const clear = a.people.filter((p) => !p.hard).length;
      expect(alive).toBeGreaterThanOrEqual(Math.ceil(clear / 2));
      expect(alive).toBeLessThanOrEqual(Math.floor(1.5 * a.people.length));
    }
  });

  it("every track has upper and lower colours, a finite positive distance and a path on the floor in the zone", async () => {
    for (const p of items) {
      expect(COLOURS).toContain(p.attributes.upper?.value);
      expect(COLOURS).toContain(p.attributes.lower?.value);
      expect(Number.isFinite(p.distance_m)).toBe(true);
      expect(p.distance_m).toBeGreaterThan(0);
      expect(p.tracklets.every((t) => t.camera === CAMERA)).toBe(true);
      expect(p.path.length).toBeGreaterThan(0);
      for (const [ms, x, y] of p.path) {
        expect(ms).toBeGreaterThanOrEqual(startMs);
        expect(ms).toBeLessThanOrEqual(startMs + CLIP_S * 1000);
        // inside the calibrated floor (the image's floor quadrilateral lies within x -1..21, y 0..22)
        expect(x).toBeGreaterThan(-2);
        expect(x).toBeLessThan(22);
        expect(y).toBeGreaterThan(-1);
        expect(y).toBeLessThan(23);
      }
      expect(p.visits.some((v) => v.space === ZONE)).toBe(true);
    }
    const stats = await getJson<{ count: number; mean_m: number }>(stack, `/api/v1/stats/distance?${range()}`);
    expect(stats.status).toBe(200);
    expect(stats.body.count).toBe(items.length);
    const mean = items.reduce((s, p) => s + p.distance_m, 0) / items.length;
    expect(stats.body.mean_m).toBeCloseTo(mean, 2);

    // an attribute query on real footage: upper=<most common colour> returns exactly those tracks
    const tally = new Map<string, number>();
    for (const p of items) tally.set(p.attributes.upper!.value, (tally.get(p.attributes.upper!.value) ?? 0) + 1);
    const [top] = [...tally].sort((a, b) => b[1] - a[1])[0]!;
    const q = await getJson<{ items: PathItem[] }>(stack, `/api/v1/paths?${range()}&upper=${top}&limit=1000`);
    expect(q.status).toBe(200);
    expect(q.body.items.map((p) => p.person).sort()).toEqual(items.filter((p) => p.attributes.upper!.value === top).map((p) => p.person).sort());

    // the summary for the README
    const seconds = items.map((p) => (Date.parse(p.end) - Date.parse(p.start)) / 1000);
    const colours = (k: "upper" | "lower") => {
      const t = new Map<string, number>();
      for (const p of items) t.set(p.attributes[k]!.value, (t.get(p.attributes[k]!.value) ?? 0) + 1);
      return [...t].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(", ");
    };
    console.log(
      `video chain summary: ${CLIP_S} s of vtest.avi at ${FPS} fps, ${summary.published} frames, ${summary.detections} detections -> ` +
        `${items.length} person tracks; mean length ${(seconds.reduce((a, b) => a + b, 0) / items.length).toFixed(1)} s ` +
        `(max ${Math.max(...seconds).toFixed(1)} s), mean distance ${mean.toFixed(1)} m (max ${Math.max(...items.map((p) => p.distance_m)).toFixed(1)} m); ` +
        `upper: ${colours("upper")}; lower: ${colours("lower")}`,
    );
  });

  it("SIGTERM stops cleanly (every frame in flight acknowledged); a restart continues seq from the state file, nothing late", async () => {
    const site = "plaza-restart", camera = "cam-restart", secret = "restart-camera-secret";
    const put = await stack.admin("PUT", `/api/v1/sites/${site}/topology`, {
      spaces: [{ id: ZONE, name: "Plaza", polygon: FLOOR }], doorways: [],
      devices: [{ id: camera, kind: "camera", secret, calibration: CALIBRATION, sees: [ZONE] }],
    } satisfies TopologyDocIn);
    expect(put.status).toBe(200);
    await cameraCanLogIn(stack.mqttUrl, site, camera, secret);
    const dir = mkdtempSync(path.join(os.tmpdir(), "footfall-video-chain-"));
    const influx = influxClient(stack.cfg.influxUrl!, stack.cfg.influxDb);
    const tracked = async () => {
      const rows = await influx.query(`SELECT sum("frames") AS frames, sum("late") AS late FROM "camera_stats" WHERE "site" = '${site}'`);
      const r = rows[0] as { frames?: number; late?: number } | undefined;
      return { frames: r?.frames ?? 0, late: r?.late ?? 0 };
    };
    try {
      const state = path.join(dir, `${camera}.json`);
      // a camera paced in real time (frame time = now), stopped by SIGTERM once frames are being tracked
      const run = async (trackedBefore: number, opsPort?: number) => {
        const agent = startDetectMain(["--camera", camera, "--site", site, "--mqtt", stack.mqttUrl, "--source", VTEST_AVI,
          "--realtime", "--loop", "--state", state, "--threads", "1", ...(opsPort ? ["--ops-port", String(opsPort)] : [])], secret);
        await eventually("frames of this run tracked", async () => (await tracked()).frames >= trackedBefore + 10, 60_000, 300);
        if (opsPort) {
          // the process's own health and Prometheus metrics
          const health = await getJson<{ ok: boolean; camera: string; mqtt: string; processed: number }>(`http://127.0.0.1:${opsPort}/healthz`);
          expect(health.status).toBe(200);
          expect(health.body).toMatchObject({ ok: true, camera, mqtt: "connected" });
          expect(health.body.processed).toBeGreaterThan(0);
          const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
          expect(metrics).toMatch(/footfall_camera_detect_frames_total\{[^}]*outcome="processed"[^}]*\} [1-9]/);
          expect(metrics).toMatch(/footfall_camera_detect_stage_seconds_total\{[^}]*stage="infer"/);
        }
        agent.child.kill("SIGTERM");
        return agent.done;
      };
      const first = await run(0, await freePort());
      expect(first.code).toBe(0);
      expect(first.summary).toMatchObject({ reason: "signal", failed: 0, first_seq: 0 });
      expect(first.summary.published).toBe(first.summary.processed); // in-flight frames were acknowledged before the disconnect
      expect(first.summary.next_seq).toBe(first.summary.published);
      expect(await loadSeqState(state)).toMatchObject({ camera, next_seq: first.summary.next_seq, clean: true });

      const second = await run(first.summary.published);
      expect(second.code).toBe(0);
      expect(second.summary.first_seq).toBe(first.summary.next_seq);
      expect(second.summary.published).toBe(second.summary.processed);
      const total = first.summary.published + second.summary.published;
      // every frame of both runs tracked once, none late (seq and frame time both went on growing)
      await eventually("both runs tracked", async () => (await tracked()).frames === total, 30_000, 300);
      expect(await tracked()).toEqual({ frames: total, late: 0 });
      console.log(`SIGTERM and restart: ${first.summary.published} + ${second.summary.published} frames, seq ${second.summary.first_seq} continued, none late`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("agent detect refuses bad options and a missing secret (exit 2, nothing published)", () => {
  const main = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, agentArgs("detect", ...args), {
      cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, FOOTFALL_CAMERA_SECRET: "", FOOTFALL_LOG_LEVEL: "info", ...env },
    });
    return { code: r.status, out: r.stdout + r.stderr };
  };
  const base = ["--camera", CAMERA, "--site", SITE, "--mqtt", "mqtt://127.0.0.1:1", "--source", VTEST_AVI];

  it("exits 2 with the reason", () => {
    for (const [args, env, reason] of [
      [[...base, "--fps", "0"], { FOOTFALL_CAMERA_SECRET: SECRET }, /--fps must be > 0/],
      [[...base, "--fps", "2", "--every", "3"], { FOOTFALL_CAMERA_SECRET: SECRET }, /either --fps or --every/],
      [[...base, "--still-every", "-1"], { FOOTFALL_CAMERA_SECRET: SECRET }, /--still-every must be ≥ 0/],
      [[...base, "--camera", "bad id"], { FOOTFALL_CAMERA_SECRET: SECRET }, /device id must be/],
      [[...base.slice(0, -1), "/no/such/video.avi"], { FOOTFALL_CAMERA_SECRET: SECRET }, /no such file/],
      [[...base.slice(0, -2), "--source", "rtsp://127.0.0.1:1/x", "--loop"], { FOOTFALL_CAMERA_SECRET: SECRET }, /for file sources/],
      [base, {}, /no camera secret/],
    ] as const) {
      const r = main([...args], env);
      expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
      expect(r.out).toMatch(reason);
    }
  });
});
