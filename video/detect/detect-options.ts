/**
 * Command-line options of the detection agent (`footfall agent detect`, video/detect/main.ts),
 * parsed from commander's strings and checked with zod. `parseDetectMainOptions` throws a DetectOptionsError
 * with every problem in one message.
 */
import { z } from "zod";
import { DeviceId, SiteId } from "../../contracts/ids.ts";
import { BrokerList } from "../../edge/broker-list.ts";
import { MAX_TS, MIN_TS } from "../../contracts/time.ts";
import { DEFAULT_SCORE } from "../../models/detector-defaults.ts";
import type { DetectSource } from "./detect-source.ts";

/** the options as commander hands them over */
export interface DetectMainRawOptions {
  camera?: string;
  site?: string;
  mqtt?: string;
  secretFile?: string;
  clientId?: string;
  source?: string;
  fps?: string;
  every?: string;
  realtime?: boolean;
  loop?: boolean;
  startMs?: string;
  start?: string;
  duration?: string;
  motion?: string | boolean;
  maxSkip?: string;
  threads?: string;
  score?: string;
  state?: string;
  maxInFlight?: string;
  statusEvery?: string;
  stillEvery?: string;
  opsPort?: string;
  opsHost?: string;
  /** PEM CA file the broker's TLS certificate must verify against (mqtts://) */
  ca?: string;
}

export class DetectOptionsError extends Error {}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

const num = (name: string, o: { int?: boolean; min?: number; gt?: number; max?: number } = {}) => {
  let n = z.number({ error: `--${name} must be a number` }).refine(Number.isFinite, `--${name} must be a number`);
  if (o.int) n = n.refine(Number.isInteger, `--${name} must be an integer`);
  if (o.min !== undefined) n = n.refine((v) => v >= o.min!, `--${name} must be ≥ ${o.min}`);
  if (o.gt !== undefined) n = n.refine((v) => v > o.gt!, `--${name} must be > ${o.gt}`);
  if (o.max !== undefined) n = n.refine((v) => v <= o.max!, `--${name} must be ≤ ${o.max}`);
  return z.string().trim().min(1, `--${name} must be a number`).transform(Number).pipe(n);
};

const Raw = z.object({
  camera: DeviceId,
  site: SiteId,
  // one broker URL, or several separated by commas (edge/broker-list.ts)
  mqtt: z.string().pipe(BrokerList.transform((l) => l.join(","))),
  clientId: z.string().min(1).max(80).optional(),
  source: z.string().min(1, "--source is required"),
  fps: num("fps", { gt: 0, max: 1000 }).optional(),
  every: num("every", { int: true, min: 1 }).optional(),
  realtime: z.boolean().optional(),
  loop: z.boolean().optional(),
  startMs: num("start-ms", { int: true, min: MIN_TS, max: MAX_TS }).optional(),
  start: num("start", { min: 0 }).optional(),
  duration: num("duration", { gt: 0 }).optional(),
  motion: z.union([z.boolean(), num("motion", { min: 0, max: 1 })]).optional(),
  maxSkip: num("max-skip", { int: true, min: 0 }).optional(),
  threads: num("threads", { int: true, min: 1, max: 64 }).optional(),
  score: num("score", { min: 0, max: 1 }).optional(),
  state: z.string().min(1).optional(),
  maxInFlight: num("max-in-flight", { int: true, min: 1, max: 10_000 }).optional(),
  statusEvery: num("status-every", { gt: 0, max: 3600 }).optional(),
  stillEvery: num("still-every", { min: 0, max: 3600 }).optional(),
});

export interface DetectMainOptions {
  camera: string;
  site: string;
  mqtt: string;
  clientId: string;
  source: DetectSource;
  fps?: number;
  every?: number;
  startMs?: number;
  startS?: number;
  durationS?: number;
  motion?: { threshold: number; maxSkip: number };
  threads: number;
  score: number;
  stateFile?: string;
  maxInFlight: number;
  statusEveryMs: number;
  /** frame time between stills (ms); 0: no stills */
  stillEveryMs: number;
}

/** Seconds between a camera's stills when --still-every is not given. */
export const DEFAULT_STILL_EVERY_S = 3;
/**
 * ONNX Runtime intra-op threads of a camera's detection process: one. The model then runs on one
 * core in its worker while decoding, letterboxing and colours use another, and the loop costs
 * what inference alone costs; a second thread makes one camera's frames a little faster but
 * fights the rest of its own loop (and the machine's other cameras) for the cores.
 */
export const DEFAULT_AGENT_THREADS = 1;

export function parseDetectMainOptions(raw: DetectMainRawOptions): DetectMainOptions {
  const r = Raw.safeParse(raw);
  if (!r.success) {
    throw new DetectOptionsError(r.error.issues.map((i) => (i.path.length && !i.message.startsWith("--") ? `--${String(i.path[0])}: ${i.message}` : i.message)).join("; "));
  }
  const o = r.data;
  const problems: string[] = [];
  if (o.fps !== undefined && o.every !== undefined) problems.push("give either --fps or --every, not both");
  if (o.maxSkip !== undefined && (o.motion === undefined || o.motion === false)) problems.push("--max-skip needs --motion");
  const url = isUrl(o.source);
  if (url && (o.realtime || o.loop)) problems.push("--realtime and --loop are for file sources (a URL is live already)");
  if (problems.length) throw new DetectOptionsError(problems.join("; "));
  const source: DetectSource = url
    ? { kind: "url", url: o.source, reconnect: true }
    : { kind: "file", path: o.source, pace: o.realtime ? "realtime" : "fast", loop: !!o.loop };
  const motion = o.motion === undefined || o.motion === false
    ? undefined
    : { threshold: o.motion === true ? 0.005 : o.motion, maxSkip: o.maxSkip ?? 10 };
  return {
    camera: o.camera,
    site: o.site,
    mqtt: o.mqtt,
    clientId: o.clientId ?? `${o.camera}.detect`,
    source,
    ...(o.every !== undefined ? { every: o.every } : { fps: o.fps ?? 5 }),
    ...(o.startMs !== undefined ? { startMs: o.startMs } : {}),
    ...(o.start !== undefined ? { startS: o.start } : {}),
    ...(o.duration !== undefined ? { durationS: o.duration } : {}),
    ...(motion ? { motion } : {}),
    threads: o.threads ?? DEFAULT_AGENT_THREADS,
    score: o.score ?? DEFAULT_SCORE,
    ...(o.state !== undefined ? { stateFile: o.state } : {}),
    maxInFlight: o.maxInFlight ?? 16,
    statusEveryMs: (o.statusEvery ?? 5) * 1000,
    stillEveryMs: (o.stillEvery ?? DEFAULT_STILL_EVERY_S) * 1000,
  };
}
