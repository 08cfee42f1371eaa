/**
 * The video side of the API process: the chunk store under {dataDir}/video, its retention policy
 * and scheduled retention job, and the key that signs chunk URLs (FOOTFALL_VIDEO_URL_SECRET, else
 * a random key made once and kept in {dataDir}/video/url-secret, so links survive restarts).
 * A camera's site (for site policies and quotas) comes from the device registry.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../infra/config.ts";
import type { Logger } from "../../infra/log.ts";
import type { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import { writeFileAtomic } from "../../infra/state-file.ts";
import { ChunkStore } from "./chunk-store.ts";
import { Retention, startRetentionJob, type SweepReport } from "./retention.ts";

export interface VideoService {
  store: ChunkStore;
  retention: Retention;
  urlSecret: string;
  maxChunkBytes: number;
  clock: () => number;
  /** stops the scheduled job and waits for a sweep in progress */
  stop(): Promise<void>;
}

export const videoDirOf = (cfg: Config) => path.join(cfg.dataDir, "video");

async function urlSecretOf(cfg: Config, dir: string): Promise<string> {
  if (cfg.videoUrlSecret) return cfg.videoUrlSecret;
  const file = path.join(dir, "url-secret");
  try {
    const s = (await readFile(file, "utf8")).trim();
    if (s.length >= 16) return s;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const s = randomBytes(32).toString("hex");
  await writeFileAtomic(file, s + "\n");
  return s;
}

export async function openVideoService(
  cfg: Config, registry: DeviceRegistry, log: Logger,
  opts: { clock?: () => number; onSweep?: (r: SweepReport) => void } = {},
): Promise<VideoService> {
  const clock = opts.clock ?? Date.now;
  const dir = videoDirOf(cfg);
  const vlog = log.child({ component: "video" });
  // uploads are verified with the secret the camera presents (see video-routes.ts); nothing else puts
  const store = await ChunkStore.open({ root: dir, keyOf: () => undefined, clock, log: vlog });
  const retention = await Retention.open({ store, siteOf: (camera) => registry.get(camera)?.site ?? "default", log: vlog });
  const urlSecret = await urlSecretOf(cfg, dir);
  const stopJob = startRetentionJob(retention, {
    intervalMs: cfg.videoSweepS * 1000, clock, log: vlog,
    onReport: (r) => {
      if (r.moved_to_cold.length + r.purged.length + r.failed.length > 0) {
        vlog.info({ moved_to_cold: r.moved_to_cold.length, purged: r.purged.length, failed: r.failed.length }, "retention sweep");
      }
      opts.onSweep?.(r);
    },
  });
  return {
    store, retention, urlSecret, maxChunkBytes: cfg.maxChunkBytes, clock,
    async stop() {
      stopJob();
      await retention.idle();
    },
  };
}
