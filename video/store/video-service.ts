/**
 * The video side of the API process: the chunk store under {dataDir}/video, its retention policy
 * and scheduled retention job, and the key that signs chunk URLs (FOOTFALL_VIDEO_URL_SECRET, else
 * a random key made once and kept in {dataDir}/video/url-secret, so links survive restarts).
 * A camera's site (for site policies and quotas) comes from the device registry.
 *
 * Given NATS, the store's index is in NATS KV (chunk-index.ts), so several API processes whose
 * FOOTFALL_DATA_DIR is one shared path serve the same chunks; their retention jobs take turns
 * (one sweep at a time), and the first of them to start makes the URL key the others read.
 */
import { randomBytes } from "node:crypto";
import { readFile, readdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../infra/config.ts";
import type { Logger } from "../../infra/log.ts";
import type { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { ChunkStore } from "./chunk-store.ts";
import { FileChunkIndex, KvChunkIndex, type ChunkEntry } from "./chunk-index.ts";
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
  // made once: another API process sharing the path may be making it at this moment, the first write wins
  const s = randomBytes(32).toString("hex");
  try {
    await writeFile(file, s + "\n", { flag: "wx" });
    return s;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  for (let i = 0; i < 50; i++) {
    const t = (await readFile(file, "utf8")).trim();
    if (t.length >= 16) return t;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} holds no usable key (at least 16 characters); remove it or set FOOTFALL_VIDEO_URL_SECRET`);
}

/**
 * A store kept before the index moved to NATS KV has its index in `{root}/index/` (JSONL files):
 * its entries are copied into the KV index once (an entry already there is kept), then the folder
 * is renamed `index.imported-{ms}`. One process does it; the others see the entries arrive.
 */
export async function importFileIndex(store: ChunkStore, log?: Logger): Promise<number> {
  const dir = path.join(store.root, "index");
  const present = async () => (await readdir(store.root)).includes("index");
  if (store.index.kind !== "nats-kv" || !(await present())) return 0;
  const done = await store.exclusive("import-file-index", async () => {
    if (!(await present())) return 0;
    const found = new Map<string, ChunkEntry>();
    const key = (camera: string, seq: number) => `${camera}/${seq}`;
    await new FileChunkIndex(store.root, log).open({
      set: (e) => found.set(key(e.meta.camera, e.meta.seq), e),
      delete: (camera, seq) => found.delete(key(camera, seq)),
      get: (camera, seq) => found.get(key(camera, seq)),
    });
    let n = 0;
    for (const e of found.values()) if ((await store.index.create(e)).ok) n++;
    await rename(dir, `${dir}.imported-${Date.now()}`);
    log?.info({ imported: n, found: found.size }, "chunk index imported from files into NATS KV");
    return n;
  });
  return done.ran ? done.value : 0;
}

export async function openVideoService(
  cfg: Config, registry: DeviceRegistry, log: Logger,
  opts: { clock?: () => number; onSweep?: (r: SweepReport) => void; nc?: NatsConnection } = {},
): Promise<VideoService> {
  const clock = opts.clock ?? Date.now;
  const dir = videoDirOf(cfg);
  const vlog = log.child({ component: "video" });
  // uploads are verified with the secret the camera presents (see video-routes.ts); nothing else puts
  // with NATS the index is shared (several API processes on one shared data path); without, files of this process
  const index = opts.nc ? await KvChunkIndex.connect(opts.nc, vlog) : undefined;
  const store = await ChunkStore.open({ root: dir, keyOf: () => undefined, clock, log: vlog, ...(index ? { index } : {}) });
  if (index) await importFileIndex(store, vlog);
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
      store.close();
    },
  };
}
