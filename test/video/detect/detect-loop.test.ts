/**
 * The camera agent's detection loop on real footage (opencv-doc's vtest.avi, real ffmpeg, the real
 * NanoDet ONNX detector):
 * - the first 13 s at 5 fps: frames in order (seq 0, 1, 2, ... ; frame_ts = start + pts, strictly
 *   growing), every frame valid in the camera event contract, boxes inside the image, oids unique,
 *   and the people of the hand-annotated frames at 1 s and 12 s found (greedy IoU matching of
 *   test/models/detection-accuracy.ts; the same loose floor as the detector's own test);
 * - the motion gate on a still video (one vtest frame held for 10 s) hands out only the frames
 *   its max-skip forces, while on the moving footage it lets nearly every frame through; every
 *   sampled frame, held or not, is offered to onSampled (the camera's stills) with its frame_ts;
 * - a looped file continues its timeline across passes; realtime pacing never hands a frame out
 *   before its time (a lower bound only); a URL stream that ends is opened again and frame times
 *   keep growing across the connections;
 * - the frame counter continues across restarts through its state file, and skips its reserved
 *   block after a crash.
 */
import { execFile } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DetectionFrame } from "../../../contracts/detection.ts";
import { detectFrames, type DetectedFrame, type DetectLoopOptions } from "../../../video/detect/detect-loop.ts";
import { loadSeqState, SeqCounter } from "../../../video/detect/detect-seq.ts";
import { MotionGate } from "../../../video/detect/motion-gate.ts";
import { Detector } from "../../../models/detector.ts";
import { evaluate, loadVtestAnnotations } from "../../models/detection-accuracy.ts";
import { hasVtest, VTEST_AVI, VTEST_HEIGHT, VTEST_WIDTH } from "../../models/frames.ts";
import { freePort } from "../../support/ports.ts";

const run = promisify(execFile);
const NO_VTEST = !hasVtest();
if (NO_VTEST) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)");

const START_MS = Date.UTC(2026, 10, 23, 10, 0, 0);
const CAMERA = "cam-vtest";

async function collect(o: Omit<DetectLoopOptions, "detector" | "camera">, det: Detector, limit = Infinity): Promise<DetectedFrame[]> {
  const out: DetectedFrame[] = [];
  for await (const f of detectFrames({ camera: CAMERA, detector: det, ...o })) {
    out.push(f);
    if (out.length >= limit) break;
  }
  return out;
}

describe.skipIf(NO_VTEST)("detection loop on vtest.avi", () => {
  let det: Detector;
  let dir: string;
  beforeAll(async () => {
    det = await Detector.create({ intraOpNumThreads: 2, scoreThreshold: 0.35 });
    dir = mkdtempSync(path.join(os.tmpdir(), "footfall-detect-loop-"));
  });
  afterAll(async () => {
    await det?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("hands out contract frames in order, boxes inside the image, and finds the annotated people", async () => {
    const frames = await collect({ source: { kind: "file", path: VTEST_AVI }, startMs: START_MS, fps: 5, durationS: 13 }, det);
    expect(frames.length).toBe(65); // 13 s at 5 fps, nothing held back without a gate
    const oids = new Set<string>();
    frames.forEach((f, k) => {
      const parsed = DetectionFrame.parse(f.frame); // exactly what the broker checks
      expect(parsed.seq).toBe(k);
      expect(f.t).toBeCloseTo(k / 5, 6);
      expect(parsed.frame_ts).toBe(START_MS + Math.round(f.t * 1000));
      if (k > 0) expect(parsed.frame_ts).toBeGreaterThan(frames[k - 1]!.frame.frame_ts as number);
      expect([f.width, f.height]).toEqual([VTEST_WIDTH, VTEST_HEIGHT]);
      for (const d of parsed.detections) {
        const [x1, y1, x2, y2] = d.box;
        expect(x1).toBeGreaterThanOrEqual(0);
        expect(y1).toBeGreaterThanOrEqual(0);
        expect(x2).toBeLessThanOrEqual(VTEST_WIDTH);
        expect(y2).toBeLessThanOrEqual(VTEST_HEIGHT);
        expect(d.cls).toBe("person");
        expect(d.attrs?.upper).toBeDefined();
        expect(d.attrs?.lower).toBeDefined();
        expect(oids.has(d.oid)).toBe(false);
        oids.add(d.oid);
      }
    });
    const stats = frames.at(-1)!.stats;
    expect(stats).toMatchObject({ sampled: 65, processed: 65, held: 0, passes: 1 });
    expect(stats.detections).toBe(oids.size);

    // the hand-annotated frames inside the run
    const annotated = loadVtestAnnotations().frames.filter((a) => a.seconds <= 13);
    expect(annotated.length).toBeGreaterThanOrEqual(2);
    const report = evaluate(annotated.map((a) => {
      const f = frames.find((x) => Math.abs(x.t - a.seconds) < 1e-6);
      if (!f) throw new Error(`no frame at ${a.seconds} s`);
      return { seconds: a.seconds, people: a.people, detections: f.frame.detections.map((d) => ({ box: d.box, score: d.score })) };
    }), 0);
    const people = annotated.reduce((s, a) => s + a.people.filter((p) => !p.hard).length, 0);
    console.log(
      `vtest 0-13 s: ${frames.length} frames, ${stats.detections} detections (${(stats.detections / frames.length).toFixed(1)} per frame); ` +
        `annotated frames ${annotated.map((a) => `${a.seconds}s`).join(", ")}: ${report.tp} of ${people} people found, ${report.fp} false positives ` +
        `(precision ${report.precision.toFixed(2)}, recall ${report.recall.toFixed(2)}); ms per frame: ` +
        ["decode", "gate", "pre", "infer", "post", "colours"].map((s) => `${s} ${stats.mean(s as "decode").toFixed(1)}`).join(", "),
    );
    expect(report.recall).toBeGreaterThanOrEqual(0.5);
    expect(report.precision).toBeGreaterThanOrEqual(0.5);
  });

  it("motion gate: a still video hands out only the frames max-skip forces; moving footage nearly every frame", async () => {
    const png = path.join(dir, "still.png");
    const still = path.join(dir, "still.avi");
    await run("ffmpeg", ["-v", "error", "-y", "-ss", "20", "-i", VTEST_AVI, "-frames:v", "1", png]);
    await run("ffmpeg", ["-v", "error", "-y", "-loop", "1", "-framerate", "10", "-i", png, "-t", "10", "-c:v", "mpeg4", "-q:v", "2", still]);

    const maxSkip = 10;
    const sampled: Array<[number, number]> = []; // [frame_ts, width] of every sampled frame, held ones too (stills are made from these)
    const gated = await collect({
      source: { kind: "file", path: still }, startMs: START_MS, fps: 5, gate: new MotionGate({ threshold: 0.005, maxSkip }),
      onSampled: (f, ts) => sampled.push([ts, f.width]),
    }, det);
    const s = gated.at(-1)!.stats;
    expect(s.sampled).toBe(50);
    expect(sampled).toEqual(Array.from({ length: 50 }, (_, k) => [START_MS + 200 * k, VTEST_WIDTH]));
    for (const f of gated) expect(sampled.some(([ts]) => ts === f.frame.frame_ts)).toBe(true);
    // the first frame, then one after every maxSkip held back
    expect(s.processed).toBe(Math.ceil(s.sampled / (maxSkip + 1)));
    expect(s.held).toBe(s.sampled - s.processed);
    // seq counts handed-out frames only (no holes); frame times jump over the held frames
    expect(gated.map((f) => f.frame.seq)).toEqual(gated.map((_, k) => k));
    expect(gated.map((f) => f.index)).toEqual(gated.map((_, k) => k * (maxSkip + 1)));
    // a 10 fps source sampled at 5 fps: sampled frame i is the source's frame 2i
    expect(gated.map((f) => f.sourceIndex)).toEqual(gated.map((_, k) => 2 * k * (maxSkip + 1)));
    for (let k = 1; k < gated.length; k++) {
      expect((gated[k]!.frame.frame_ts as number) - (gated[k - 1]!.frame.frame_ts as number)).toBe(((maxSkip + 1) / 5) * 1000);
    }
    // the still frame's people are still detected in the frames handed out
    expect(gated.every((f) => f.frame.detections.length >= 2)).toBe(true);

    // the same gate on moving footage lets (nearly) everything through
    const moving = await collect({ source: { kind: "file", path: VTEST_AVI }, startMs: START_MS, fps: 5, durationS: 6, gate: new MotionGate({ threshold: 0.005, maxSkip }) }, det);
    const m = moving.at(-1)!.stats;
    console.log(`motion gate: still video ${s.processed} of ${s.sampled} frames handed out; vtest ${m.processed} of ${m.sampled}`);
    expect(m.processed).toBeGreaterThanOrEqual(0.9 * m.sampled);
    expect(s.processed / s.sampled).toBeLessThan(m.processed / m.sampled / 5);
  });

  it("a looped file continues its timeline across passes; realtime pacing never hands a frame out early", async () => {
    const looped = await collect({ source: { kind: "file", path: VTEST_AVI, loop: true }, startMs: START_MS, fps: 5, durationS: 1 }, det, 12);
    expect(looped.map((f) => f.pass)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]);
    looped.forEach((f, k) => {
      expect(f.t).toBeCloseTo(k * 0.2, 6);
      expect(f.frame.seq).toBe(k);
    });
    expect(looped[5]!.index).toBe(0); // the second pass starts the file again
    expect(looped.map((f) => f.sourceIndex)).toEqual([0, 2, 4, 6, 8, 0, 2, 4, 6, 8, 0, 2]);
    expect(looped.at(-1)!.stats.passes).toBe(3);

    const arrived: number[] = [];
    const t0 = performance.now();
    for await (const f of detectFrames({ camera: CAMERA, detector: det, source: { kind: "file", path: VTEST_AVI, pace: "realtime" }, fps: 5, maxFrames: 6 })) {
      arrived.push(performance.now());
      expect(f.t).toBeCloseTo(f.index / 5, 6);
    }
    expect(arrived.length).toBe(6);
    // frame k not before k/5 s after the start (paced from the first frame's arrival; 1 ms of timer slack)
    arrived.forEach((at, k) => expect(at - t0).toBeGreaterThanOrEqual(k * 200 - 1));
  });

  it("a URL source that ends is reconnected; frame times keep growing across connections", async () => {
    // 2 s of vtest as MPEG-TS over HTTP: each connection delivers it and ends
    const ts = path.join(dir, "vtest-2s.ts");
    await run("ffmpeg", ["-v", "error", "-y", "-i", VTEST_AVI, "-t", "2", "-c:v", "mpeg2video", "-q:v", "3", "-f", "mpegts", ts]);
    let connections = 0;
    const server = http.createServer((_req, res) => {
      connections++;
      res.writeHead(200, { "content-type": "video/mp2t" });
      createReadStream(ts).pipe(res);
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      const frames = await collect({ source: { kind: "url", url: `http://127.0.0.1:${port}/vtest.ts`, reconnect: true }, fps: 5 }, det, 15);
      expect(frames.map((f) => f.pass)).toEqual([...Array(10).fill(0), ...Array(5).fill(1)]);
      for (let k = 1; k < frames.length; k++) {
        expect(frames[k]!.t).toBeGreaterThan(frames[k - 1]!.t);
        expect(frames[k]!.frame.frame_ts).toBeGreaterThan(frames[k - 1]!.frame.frame_ts as number);
        expect(frames[k]!.frame.seq).toBe(k);
      }
      // within a connection the frames keep their own spacing (pts)
      for (let k = 1; k < 10; k++) expect(frames[k]!.t - frames[k - 1]!.t).toBeCloseTo(0.2, 3);
      expect(connections).toBeGreaterThanOrEqual(2);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("the frame counter continues across restarts (state file) and skips its reserved block after a crash", async () => {
    const file = path.join(dir, "state", `${CAMERA}.json`);
    const first = await SeqCounter.open(CAMERA, file, 4);
    const a = await collect({ source: { kind: "file", path: VTEST_AVI }, startMs: START_MS, fps: 5, maxFrames: 6, seq: first }, det);
    expect(a.map((f) => f.frame.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    // while running the file holds the end of the reserved block, not the exact next seq
    expect(await loadSeqState(file)).toMatchObject({ camera: CAMERA, next_seq: 8, clean: false });
    await first.close();
    expect(await loadSeqState(file)).toMatchObject({ next_seq: 6, clean: true });

    const second = await SeqCounter.open(CAMERA, file, 4);
    const b = await collect({ source: { kind: "file", path: VTEST_AVI }, startMs: START_MS + 60_000, fps: 5, maxFrames: 3, seq: second }, det);
    expect(b.map((f) => f.frame.seq)).toEqual([6, 7, 8]);
    // no close(): a crash. The next run starts after the block reserved at the open (6 + 4): a gap, never a reused seq
    expect((await SeqCounter.open(CAMERA, file, 4)).next).toBe(10);
    await expect(SeqCounter.open("another-camera", file)).rejects.toThrow(/cam-vtest/);
  });
});
