/**
 * Retention of the chunk store: warm tier → cold tier (compacted) → purged, per site with
 * per-camera overrides, plus per-site byte quotas.
 *
 * The policy lives in `{store root}/retention.json` (written atomically) and is re-read at every
 * sweep, so a change through `setSitePolicy` / `setCameraPolicy` (or by another process) takes
 * effect at the next sweep without a restart. Defaults: 30 warm days, 30 cold days, no quota.
 *
 * `sweep(now)` (the clock is a parameter, so tests shorten time), for every chunk by the age of
 * its end (now − end_ms):
 *   - age ≥ warm_days + cold_days: purged (index entry and, when unreferenced, blob);
 *   - warm and age ≥ warm_days: moved to cold: re-encoded with ffmpeg (H.264, half the height,
 *     CRF 32, keyframe every second) into a new blob; if that is not smaller, the original blob
 *     stays and only the tier changes;
 * then, per site over quota_bytes: the oldest chunks of the site's cameras are purged until the
 * site fits. It returns a report of everything it did.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Logger } from "pino";
import { z } from "zod";
import { DeviceId, SiteId } from "../../contracts/ids.ts";
import { probeChunk } from "../chunk/chunk-probe.ts";
import { ffmpegPath } from "../chunk/ffmpeg-tools.ts";
import { writeFileAtomic } from "../../infra/state-file.ts";
import { ChunkStore, type ChunkEntry } from "./chunk-store.ts";

const run = promisify(execFile);
const DAY_MS = 86_400_000;

const days = z.number().min(0).max(36_500);
export const TierDays = z.strictObject({ warm_days: days, cold_days: days });
export type TierDays = z.output<typeof TierDays>;

export const SitePolicy = z.strictObject({
  warm_days: days.optional(),
  cold_days: days.optional(),
  /** bytes of blobs the site's cameras may use; absent = no quota */
  quota_bytes: z.number().int().min(0).optional(),
});
export type SitePolicy = z.output<typeof SitePolicy>;

export const CameraPolicy = z.strictObject({ warm_days: days.optional(), cold_days: days.optional() });
export type CameraPolicy = z.output<typeof CameraPolicy>;

export const RetentionPolicy = z.strictObject({
  v: z.literal(1),
  defaults: TierDays,
  sites: z.record(SiteId, SitePolicy),
  cameras: z.record(DeviceId, CameraPolicy),
});
export type RetentionPolicy = z.output<typeof RetentionPolicy>;

export const DEFAULT_POLICY: RetentionPolicy = { v: 1, defaults: { warm_days: 30, cold_days: 30 }, sites: {}, cameras: {} };

export interface EffectivePolicy extends TierDays {
  site: string;
  /** where each value came from */
  source: { warm_days: "camera" | "site" | "default"; cold_days: "camera" | "site" | "default" };
  quota_bytes?: number;
}

export interface SweepReport {
  now: number;
  moved_to_cold: { camera: string; seq: number; bytes_before: number; bytes_after: number; compacted: boolean }[];
  purged: { camera: string; seq: number; bytes: number; reason: "expired" | "quota" }[];
  quotas: { site: string; quota_bytes: number; bytes_before: number; bytes_after: number; over: boolean }[];
  failed: { camera: string; seq: number; step: "compact" | "purge"; error: string }[];
  /** set when nothing was done because another process was sweeping the same store (who) */
  skipped?: string;
}

export interface RetentionOptions {
  store: ChunkStore;
  /** the site a camera belongs to (default: "default") */
  siteOf?: (camera: string) => string;
  log?: Logger;
  /** height of compacted chunks: this fraction of the source height (default 0.5) */
  coldScale?: number;
  /** x264 CRF of compacted chunks (default 32) */
  coldCrf?: number;
}

/** Re-encodes `src` smaller into `dest` (mp4, no audio, keyframe every second). */
export async function compactVideo(src: string, dest: string, height: number, crf: number): Promise<void> {
  const h = Math.max(2, Math.round(height / 2) * 2);
  await run(ffmpegPath(), [
    "-hide_banner", "-loglevel", "error", "-y", "-i", src,
    "-map", "0:v:0", "-an", "-vf", `scale=-2:${h}`,
    "-c:v", "libx264", "-preset", "veryfast", "-crf", String(crf),
    "-force_key_frames", "expr:gte(t,n_forced*1)", "-pix_fmt", "yuv420p",
    "-movflags", "+faststart", "-f", "mp4", dest,
  ]);
}

export class Retention {
  readonly file: string;
  private policy: RetentionPolicy = structuredClone(DEFAULT_POLICY);
  private readonly siteOf: (camera: string) => string;
  private sweeping: Promise<SweepReport> | undefined;
  /** policy changes, one after the other (each reads, changes and writes the whole file) */
  private changes: Promise<unknown> = Promise.resolve();

  private constructor(private readonly opts: RetentionOptions) {
    this.file = path.join(opts.store.root, "retention.json");
    this.siteOf = opts.siteOf ?? (() => "default");
  }

  static async open(opts: RetentionOptions): Promise<Retention> {
    const r = new Retention(opts);
    await r.reload();
    return r;
  }

  /** Re-reads retention.json (absent: defaults). */
  async reload(): Promise<RetentionPolicy> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return (this.policy = structuredClone(DEFAULT_POLICY));
      throw e;
    }
    this.policy = RetentionPolicy.parse(JSON.parse(text));
    return this.getPolicy();
  }

  getPolicy(): RetentionPolicy {
    return structuredClone(this.policy);
  }

  /** The policy that applies to `camera` now. */
  effective(camera: string): EffectivePolicy {
    const site = this.siteOf(camera);
    const s = this.policy.sites[site] ?? {};
    const c = this.policy.cameras[camera] ?? {};
    const pick = (k: "warm_days" | "cold_days") =>
      c[k] !== undefined ? { v: c[k], src: "camera" as const }
        : s[k] !== undefined ? { v: s[k], src: "site" as const }
          : { v: this.policy.defaults[k], src: "default" as const };
    const w = pick("warm_days"), d = pick("cold_days");
    return {
      site, warm_days: w.v, cold_days: d.v, source: { warm_days: w.src, cold_days: d.src },
      ...(s.quota_bytes !== undefined ? { quota_bytes: s.quota_bytes } : {}),
    };
  }

  /** Runs policy changes of this process one at a time, so none is lost to another. */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.then(change, change);
    this.changes = run.catch(() => undefined);
    return run;
  }

  private async write(next: unknown): Promise<RetentionPolicy> {
    const p = RetentionPolicy.parse(next);
    await writeFileAtomic(this.file, JSON.stringify(p, null, 2) + "\n");
    this.policy = p;
    return this.getPolicy();
  }

  /** Replaces the whole policy (validated) and writes it. */
  setPolicy(next: unknown): Promise<RetentionPolicy> {
    return this.serially(() => this.write(next));
  }

  /** Sets (or with null removes) a site's policy. */
  setSitePolicy(site: string, sp: SitePolicy | null): Promise<RetentionPolicy> {
    return this.serially(async () => {
      await this.reload();
      const p = this.getPolicy();
      if (sp === null) delete p.sites[SiteId.parse(site)];
      else p.sites[SiteId.parse(site)] = SitePolicy.parse(sp);
      return this.write(p);
    });
  }

  /** Sets (or with null removes) a camera's override. */
  setCameraPolicy(camera: string, cp: CameraPolicy | null): Promise<RetentionPolicy> {
    return this.serially(async () => {
      await this.reload();
      const p = this.getPolicy();
      if (cp === null) delete p.cameras[DeviceId.parse(camera)];
      else p.cameras[DeviceId.parse(camera)] = CameraPolicy.parse(cp);
      return this.write(p);
    });
  }

  /**
   * One retention pass at `now` (epoch ms). Concurrent calls share the running pass. One sweep
   * at a time over every process sharing the store (the store's lock): while another process
   * sweeps, this returns at once with nothing done and `skipped` saying who.
   */
  sweep(now: number): Promise<SweepReport> {
    if (!this.sweeping) {
      this.sweeping = this.opts.store.exclusive("retention", () => this.sweepNow(now))
        .then((r) => r.ran ? r.value : { now, moved_to_cold: [], purged: [], quotas: [], failed: [], skipped: r.holder })
        .finally(() => { this.sweeping = undefined; });
    }
    return this.sweeping;
  }

  /** Resolves when no sweep is running (the one in progress, if any, has finished). */
  async idle(): Promise<void> {
    await this.sweeping?.catch(() => undefined);
  }

  private async sweepNow(now: number): Promise<SweepReport> {
    const { store, log } = this.opts;
    await this.reload();
    await store.sync();
    const report: SweepReport = { now, moved_to_cold: [], purged: [], quotas: [], failed: [] };
    const tmpDir = path.join(store.root, "tmp");
    await mkdir(tmpDir, { recursive: true });
    const touched = new Set<string>();

    for (const camera of store.cameras()) {
      const pol = this.effective(camera);
      const coldAt = pol.warm_days * DAY_MS;
      const purgeAt = (pol.warm_days + pol.cold_days) * DAY_MS;
      for (const e of store.all(camera)) {
        const age = now - e.meta.end_ms;
        if (age >= purgeAt) {
          try {
            if (await store.purge(camera, e.meta.seq)) {
              report.purged.push({ camera, seq: e.meta.seq, bytes: e.blob_bytes, reason: "expired" });
              touched.add(camera);
            }
          } catch (err) {
            report.failed.push({ camera, seq: e.meta.seq, step: "purge", error: (err as Error).message });
          }
        } else if (e.tier === "warm" && age >= coldAt) {
          try {
            report.moved_to_cold.push(await this.moveToCold(e, now, tmpDir));
            touched.add(camera);
          } catch (err) {
            log?.warn({ err, camera, seq: e.meta.seq }, "compaction failed; the chunk stays warm");
            report.failed.push({ camera, seq: e.meta.seq, step: "compact", error: (err as Error).message });
          }
        }
      }
    }

    // quotas: per site, the oldest chunks go first
    const bySite = new Map<string, ChunkEntry[]>();
    for (const camera of store.cameras()) {
      const site = this.siteOf(camera);
      let l = bySite.get(site);
      if (!l) bySite.set(site, (l = []));
      l.push(...store.all(camera));
    }
    for (const [site, entries] of bySite) {
      const quota = this.policy.sites[site]?.quota_bytes;
      if (quota === undefined) continue;
      const before = ChunkStore.blobBytes(entries);
      let bytes = before;
      if (bytes > quota) {
        entries.sort((a, b) => a.meta.start_ms - b.meta.start_ms || a.meta.camera.localeCompare(b.meta.camera));
        const refs = new Map<string, number>();
        for (const e of entries) refs.set(e.blob, (refs.get(e.blob) ?? 0) + 1);
        for (const e of entries) {
          if (bytes <= quota) break;
          try {
            if (!(await store.purge(e.meta.camera, e.meta.seq))) continue;
          } catch (err) {
            report.failed.push({ camera: e.meta.camera, seq: e.meta.seq, step: "purge", error: (err as Error).message });
            continue;
          }
          const left = (refs.get(e.blob) ?? 1) - 1;
          refs.set(e.blob, left);
          if (left === 0) bytes -= e.blob_bytes;
          report.purged.push({ camera: e.meta.camera, seq: e.meta.seq, bytes: e.blob_bytes, reason: "quota" });
          touched.add(e.meta.camera);
        }
      }
      report.quotas.push({ site, quota_bytes: quota, bytes_before: before, bytes_after: bytes, over: before > quota });
    }

    for (const camera of touched) await store.compactIndex(camera);
    if (report.moved_to_cold.length || report.purged.length || report.failed.length) {
      log?.info({
        moved_to_cold: report.moved_to_cold.length, purged: report.purged.length, failed: report.failed.length,
      }, "retention sweep");
    }
    return report;
  }

  private async moveToCold(e: ChunkEntry, now: number, tmpDir: string): Promise<SweepReport["moved_to_cold"][number]> {
    const { store } = this.opts;
    const tmp = path.join(tmpDir, `compact-${randomBytes(6).toString("hex")}.mp4`);
    const height = Math.round(e.height * (this.opts.coldScale ?? 0.5));
    try {
      await compactVideo(store.blobPath(e.blob), tmp, height, this.opts.coldCrf ?? 32);
      const bytes = (await stat(tmp)).size;
      if (bytes >= e.blob_bytes) {
        await store.setTier(e.meta.camera, e.meta.seq, "cold", now);
        return { camera: e.meta.camera, seq: e.meta.seq, bytes_before: e.blob_bytes, bytes_after: e.blob_bytes, compacted: false };
      }
      const probe = await probeChunk(tmp);
      const next = await store.replaceBlob(e.meta.camera, e.meta.seq, tmp, { tier: "cold", width: probe.width, height: probe.height, cold_ms: now });
      return { camera: e.meta.camera, seq: e.meta.seq, bytes_before: e.blob_bytes, bytes_after: next.blob_bytes, compacted: true };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/**
 * The scheduled job: a sweep every `intervalMs` (default 1 h) at `clock()`; returns a stop
 * function. A failing sweep is logged and retried at the next tick; a tick that comes while the
 * last sweep still runs is skipped, so each sweep is reported once.
 */
export function startRetentionJob(r: Retention, opts: { intervalMs?: number; clock?: () => number; log?: Logger; onReport?: (rep: SweepReport) => void } = {}): () => void {
  const clock = opts.clock ?? Date.now;
  // a tick while the last sweep still runs is skipped: joining the running sweep would report it twice
  let running = false;
  const tick = () => {
    if (running) return;
    running = true;
    r.sweep(clock())
      .then((rep) => opts.onReport?.(rep), (err: unknown) => opts.log?.error({ err }, "retention sweep failed"))
      .finally(() => { running = false; });
  };
  const t = setInterval(tick, opts.intervalMs ?? 3_600_000);
  t.unref();
  return () => clearInterval(t);
}
