import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Router, type Request, type RequestHandler, type Response } from "express";
import { z } from "zod";
import { DeviceId, SiteId } from "../contracts/ids.ts";
import type { ChunkMeta } from "../contracts/video.ts";
import type { DeviceRecord } from "../contracts/device.ts";
import type { DeviceRegistry } from "../topology/devices/device-registry.ts";
import type { Logger } from "../infra/log.ts";
import type { ChunkEntry, ChunkStore } from "../video/store/chunk-store.ts";
import { ClipError, cutClip, type ClipQuality } from "../video/store/clip.ts";
import { CameraPolicy, SitePolicy, type Retention } from "../video/store/retention.ts";
import { signChunkUrl, verifyChunkUrl, type UrlSecret } from "../video/store/signed-url.ts";
import { ApiError, badRequest, parseOr400, sendError } from "./http/api-error.ts";
import { CAMERA_REALM, deviceLogin, refuseLogin } from "./http/device-auth.ts";
import { readInstant } from "./http/time-range.ts";

/**
 * Video routes under /api/v1 (the chunk store, clips, retention):
 *
 *   PUT    /cameras/{camera}/chunks/{seq}        a camera agent uploads a chunk (camera's Basic auth)
 *   GET    /cameras/{camera}/chunks?from&to&ttl  the chunks of a range, each with a signed URL valid ttl s (a key that may read the camera's site)
 *   GET    /chunks/{sha256}?exp&sig              a chunk's bytes by signed URL (no token; Range works)
 *   GET    /cameras/{camera}/clip?from&to&quality=hd|sd   an mp4 cut from the chunks (a key that may read the camera's site)
 *   GET    /video/retention                      the retention policy (admin)
 *   PUT    /video/retention/defaults             {warm_days, cold_days} (admin)
 *   PUT    /video/retention/sites/{site}         {warm_days?, cold_days?, quota_bytes?} (admin)
 *   PUT    /video/retention/cameras/{camera}     {warm_days?, cold_days?} (admin)
 *   DELETE /video/retention/sites/{site}, /video/retention/cameras/{camera}   back to the defaults (admin)
 *   GET    /cameras/{camera}/retention           the policy in force for a camera and where it comes from (admin)
 *   POST   /video/retention/sweep                run the retention job now; answers its report (admin)
 *
 * Upload: the camera authenticates with its device secret, which is also the key its chunk
 * records are signed with, so the store verifies the signature with the secret just presented.
 * The signed record travels base64url-encoded in the Footfall-Chunk-Meta header, the bytes in the
 * body (streamed to disk, never held in memory). 201 stored, 200 already stored (a retry), 400
 * bad record, 401/403 credentials, 409 another record for that seq or an overlap, 411/413 length,
 * 422 the bytes or the signature do not match the record, 503 the store is closing.
 */
export interface VideoRoutesDeps {
  store: ChunkStore;
  retention: Retention;
  registry: DeviceRegistry;
  admin: RequestHandler;
  json: RequestHandler;
  /** signs chunk URLs */
  urlSecret: UrlSecret;
  /** largest chunk accepted, bytes */
  maxChunkBytes: number;
  log: Logger;
  clock?: () => number;
  /** lifetime of signed chunk URLs handed out by the chunk list (default 900 s) */
  urlTtlSeconds?: number;
  /** where clips are cut (default: {store}/tmp) */
  tmpDir?: string;
  /** true once the process is stopping: uploads answer 503 */
  closing?: () => boolean;
}

export const API_PREFIX_FOR_URLS = "/api/v1";
export const CHUNK_META_HEADER = "footfall-chunk-meta";

const SeqParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Quality = z.enum(["hd", "sd"]);
const TtlParam = z.coerce.number().int().min(1).max(7 * 86_400);
const TierDaysBody = z.strictObject({ warm_days: z.number().min(0).max(36_500), cold_days: z.number().min(0).max(36_500) });
const PUT_STATUS = { invalid_record: 400, unknown_camera: 403, bad_signature: 422, hash_mismatch: 422, conflict: 409 } as const;
const CONTENT_TYPES: Record<string, string> = { mp4: "video/mp4", mkv: "video/x-matroska", ts: "video/mp2t" };

function param(req: Request, name: string, schema: z.ZodType<string>): string {
  return parseOr400(schema, req.params[name], `path parameter ${name}`);
}

/** The record from the Footfall-Chunk-Meta header (base64url of JSON), or a 400. */
function readMetaHeader(req: Request): unknown {
  const raw = req.get(CHUNK_META_HEADER);
  if (!raw) throw badRequest(`the chunk record is missing: send it base64url-encoded in the ${CHUNK_META_HEADER} header`);
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(raw)) throw badRequest(`${CHUNK_META_HEADER} must be base64url`);
  try {
    return JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown;
  } catch {
    throw badRequest(`${CHUNK_META_HEADER} is not base64url-encoded JSON`);
  }
}

/** What a chunk looks like in API answers. */
function chunkView(e: ChunkEntry, url: { url: string; exp: number } | undefined) {
  return {
    camera: e.meta.camera, seq: e.meta.seq, start_ms: e.meta.start_ms, end_ms: e.meta.end_ms,
    duration_s: e.meta.duration_s, frames: e.meta.frames, gap_before_ms: e.meta.gap_before_ms,
    tier: e.tier, width: e.width, height: e.height, codec: e.meta.codec, bytes: e.blob_bytes,
    sha256: e.blob, source_sha256: e.meta.sha256, stored_ms: e.stored_ms,
    ...(e.cold_ms === undefined ? {} : { cold_ms: e.cold_ms }),
    ...(url ? { url: url.url, url_expires_ms: url.exp * 1000 } : {}),
  };
}

export function videoRoutes(deps: VideoRoutesDeps): Router {
  const { store, retention, registry, admin, json, log } = deps;
  const clock = deps.clock ?? Date.now;
  const router = Router();
  const incoming = path.join(store.root, "incoming");
  const tmpDir = deps.tmpDir ?? path.join(store.root, "tmp");

  /** The camera of the path, authenticated by its device secret (HTTP Basic). */
  const authenticateCamera = async (req: Request, res: Response): Promise<{ device: DeviceRecord; secret: string } | undefined> => {
    const id = param(req, "camera", DeviceId);
    const login = await deviceLogin(req, res, id, registry, "camera");
    if ("refused" in login) {
      refuseLogin(res, CAMERA_REALM, login);
      return undefined;
    }
    if (login.device.kind !== "camera") {
      sendError(res, 403, "forbidden", `device ${id} is a ${login.device.kind}, not a camera: only cameras upload video`);
      return undefined;
    }
    return login;
  };

  router.put("/cameras/:camera/chunks/:seq", async (req, res) => {
    // nothing of the body is read before the checks that can refuse the request
    const refuse = (status: number, code: string, reason: string) => {
      log.info({ camera: req.params.camera, seq: req.params.seq, status, reason }, "chunk upload refused");
      // the body is read and thrown away, so the client gets to read the answer (closing the
      // connection with the body unread makes the kernel reset it, and the answer is lost)
      req.resume();
      sendError(res, status, code, reason);
    };
    if (deps.closing?.()) return refuse(503, "unavailable", "the chunk store is shutting down; retry");
    const who = await authenticateCamera(req, res);
    if (!who) return;
    const seq = parseOr400(SeqParam, req.params.seq, "path parameter seq");
    const record = readMetaHeader(req);
    const claimed = record as Partial<ChunkMeta> | null;
    if (typeof claimed !== "object" || claimed === null || claimed.camera !== who.device.id || claimed.seq !== seq) {
      return refuse(400, "invalid_request", `the chunk record must be for camera ${who.device.id}, seq ${seq}`);
    }
    const lengthHeader = req.get("content-length");
    if (lengthHeader === undefined) return refuse(411, "length_required", "send the chunk with a Content-Length");
    const length = Number(lengthHeader);
    if (!Number.isSafeInteger(length) || length < 0) return refuse(400, "invalid_request", "Content-Length is not a byte count");
    if (length > deps.maxChunkBytes) return refuse(413, "too_large", `a chunk may have at most ${deps.maxChunkBytes} bytes (got ${length})`);

    await mkdir(incoming, { recursive: true });
    const tmp = path.join(incoming, `${who.device.id}-${seq}-${randomBytes(6).toString("hex")}`);
    try {
      try {
        await pipeline(req, createWriteStream(tmp, { flags: "wx" }));
      } catch (e) {
        log.info({ camera: who.device.id, seq, err: e }, "chunk upload aborted");
        if (!res.headersSent && !req.destroyed) sendError(res, 400, "invalid_request", "the upload was cut short");
        return;
      }
      const r = await store.put(record, tmp, who.secret);
      if (!r.ok) {
        log.warn({ camera: who.device.id, seq, code: r.code, reason: r.reason }, "chunk refused");
        return sendError(res, PUT_STATUS[r.code], r.code, r.reason);
      }
      log.debug({ camera: who.device.id, seq, status: r.status, bytes: r.entry.meta.bytes }, "chunk stored");
      res.status(r.status === "stored" ? 201 : 200).json({ status: r.status, chunk: chunkView(r.entry, undefined) });
    } finally {
      await rm(tmp, { force: true });
    }
  });

  // reads of a camera's video: who may read the camera's site (api/http/access.ts checks it)
  // reads first bring the store's index up to date: a chunk uploaded to another API process is seen
  router.get("/cameras/:camera/chunks", async (req, res) => {
    const camera = param(req, "camera", DeviceId);
    const now = clock();
    const to = readInstant(req.query.to, "to", Number.MAX_SAFE_INTEGER, now);
    const from = readInstant(req.query.from, "from", 0, now);
    if (from > to) throw badRequest("from must not be after to");
    await store.sync();
    const entries = store.query(camera, from, to).slice(0, 10_000);
    const ttlSeconds = req.query.ttl === undefined ? (deps.urlTtlSeconds ?? 900) : parseOr400(TtlParam, req.query.ttl, "ttl (seconds, 1 to 604800)");
    res.json({
      camera,
      span: store.span(camera) ?? null,
      chunks: entries.map((e) => chunkView(e, signChunkUrl({ sha256: e.blob, secret: deps.urlSecret, nowMs: now, ttlSeconds, prefix: API_PREFIX_FOR_URLS }))),
    });
  });

  router.get("/chunks/:sha256", async (req, res, next) => {
    const v = verifyChunkUrl({ sha256: req.params.sha256, exp: req.query.exp, sig: req.query.sig }, deps.urlSecret, clock());
    if (!v.ok) return sendError(res, v.reason === "malformed" ? 400 : 403, v.reason, v.detail);
    await store.sync();
    const entries = store.byBlob(v.sha256);
    if (entries.length === 0) return sendError(res, 404, "not_found", "this chunk is no longer stored (purged by retention)");
    const ext = /\.([a-z0-9]+)$/.exec(entries[0]!.meta.file)?.[1] ?? "";
    res.type(entries[0]!.tier === "cold" ? "video/mp4" : (CONTENT_TYPES[ext] ?? "application/octet-stream"));
    res.set("Cache-Control", "private, max-age=60");
    res.sendFile(store.blobPath(v.sha256), { headers: { "Content-Type": res.get("Content-Type") } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  router.get("/cameras/:camera/clip", async (req, res) => {
    const camera = param(req, "camera", DeviceId);
    const now = clock();
    if (req.query.from === undefined || req.query.to === undefined) throw badRequest("from and to are required");
    const from = readInstant(req.query.from, "from", 0, now);
    const to = readInstant(req.query.to, "to", 0, now);
    const quality: ClipQuality = parseOr400(Quality, req.query.quality ?? "hd", "quality (hd or sd)");
    const ac = new AbortController();
    res.once("close", () => ac.abort());
    let clip;
    await mkdir(tmpDir, { recursive: true });
    await store.sync();
    try {
      clip = await cutClip({ store, camera, from, to, quality, tmpDir, signal: ac.signal });
    } catch (e) {
      if (e instanceof ClipError) {
        throw new ApiError(e.status, e.code, e.message, e.available ? { available: e.available } : {});
      }
      throw e;
    }
    const done = () => void clip.cleanup().catch(() => {});
    res.once("close", done);
    res.status(200).set({
      "Content-Type": clip.contentType,
      "Content-Length": String(clip.bytes),
      "Content-Disposition": `inline; filename="${camera}-${from}-${to}-${quality}.mp4"`,
      "Footfall-Clip-From": String(clip.served.from_ms),
      "Footfall-Clip-To": String(clip.served.to_ms),
      "Footfall-Clip-Partial": clip.partial ? `missing_ms=${clip.missing_ms}` : "no",
    });
    const stream = clip.stream();
    stream.on("error", (err) => { log.warn({ camera, err }, "clip stream failed"); res.destroy(err); });
    stream.pipe(res);
  });

  router.get("/video/retention", admin, (_req, res) => {
    res.json(retention.getPolicy());
  });
  router.put("/video/retention/defaults", admin, json, async (req, res) => {
    const body = parseOr400(TierDaysBody, req.body, "retention defaults");
    const policy = retention.getPolicy();
    res.json(await retention.setPolicy({ ...policy, defaults: body }));
  });
  router.put("/video/retention/sites/:site", admin, json, async (req, res) => {
    const site = param(req, "site", SiteId);
    res.json(await retention.setSitePolicy(site, parseOr400(SitePolicy, req.body, "site retention")));
  });
  router.delete("/video/retention/sites/:site", admin, async (req, res) => {
    res.json(await retention.setSitePolicy(param(req, "site", SiteId), null));
  });
  router.put("/video/retention/cameras/:camera", admin, json, async (req, res) => {
    const camera = param(req, "camera", DeviceId);
    res.json(await retention.setCameraPolicy(camera, parseOr400(CameraPolicy, req.body, "camera retention")));
  });
  router.delete("/video/retention/cameras/:camera", admin, async (req, res) => {
    res.json(await retention.setCameraPolicy(param(req, "camera", DeviceId), null));
  });
  router.get("/cameras/:camera/retention", admin, (req, res) => {
    res.json(retention.effective(param(req, "camera", DeviceId)));
  });
  router.post("/video/retention/sweep", admin, async (_req, res) => {
    res.json(await retention.sweep(clock()));
  });

  return router;
}
