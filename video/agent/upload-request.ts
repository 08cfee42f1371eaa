/**
 * One chunk upload: a streaming HTTP PUT of a recorded chunk file to the chunk store, and what
 * its answer means for the uploader (stored, duplicate, retry later, give up).
 *
 *   PUT {api}/api/v1/cameras/{camera}/chunks/{seq}
 *   Authorization: Basic base64(camera:secret)
 *   Footfall-Chunk-Meta: base64url(JSON of the signed ChunkMeta)
 *   Content-Type: application/octet-stream; Content-Length: the file's size
 *
 * The body is streamed from the file (never read whole into memory). 201 = stored, 200 = the
 * store already had this very record (duplicate: success). Network errors, 5xx, 408 and 429 are
 * worth retrying (with the server's Retry-After when it sends one); any other answer is final.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { ChunkMeta } from "../../contracts/video.ts";

export type PutOutcome =
  | { kind: "stored" | "duplicate"; status: number }
  /** worth retrying: network error (no status), 5xx, 408, 429 */
  | { kind: "retry"; status?: number; error: string; reason: string; retryAfterMs?: number }
  /** final: another 4xx (or a local problem with the file) */
  | { kind: "permanent"; status?: number; error: string; reason: string }
  /** the caller aborted the request */
  | { kind: "aborted" };

export interface PutChunkOptions {
  /** the chunk store's base URL, e.g. http://127.0.0.1:8080 */
  api: string;
  secret: string;
  meta: ChunkMeta;
  /** the chunk file (its size must be meta.bytes) */
  file: string;
  agent?: http.Agent;
  signal?: AbortSignal;
  /** give up (and retry later) when the connection makes no progress for this long (default 30 s) */
  idleTimeoutMs?: number;
}

/** The upload URL of a chunk. */
export function chunkUploadUrl(api: string, camera: string, seq: number): URL {
  return new URL(`${api.replace(/\/+$/, "")}/api/v1/cameras/${encodeURIComponent(camera)}/chunks/${seq}`);
}

export const chunkMetaHeader = (meta: ChunkMeta): string => Buffer.from(JSON.stringify(meta)).toString("base64url");

export const basicAuth = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;

const MAX_ANSWER_BYTES = 64 * 1024;

/** Retry-After (seconds or an HTTP date) in ms, if the header is there and readable. */
function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** What an HTTP answer means for the uploader. */
export function classifyAnswer(status: number, body: string, retryAfter?: string): PutOutcome {
  let json: { status?: unknown; error?: unknown; reason?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") json = parsed as typeof json;
  } catch { /* not JSON: keep the raw text as the reason */ }
  if (status >= 200 && status < 300) return { kind: json.status === "duplicate" ? "duplicate" : "stored", status };
  const error = typeof json.error === "string" ? json.error : `http_${status}`;
  const reason = typeof json.reason === "string" ? json.reason : body.slice(0, 200) || `HTTP ${status}`;
  if (status >= 500 || status === 408 || status === 429) {
    const after = retryAfterMs(retryAfter);
    return { kind: "retry", status, error, reason, ...(after !== undefined ? { retryAfterMs: after } : {}) };
  }
  return { kind: "permanent", status, error, reason };
}

/** Uploads one chunk; never throws (every failure is an outcome). */
export async function putChunk(o: PutChunkOptions): Promise<PutOutcome> {
  let size: number;
  try {
    size = (await stat(o.file)).size;
  } catch (e) {
    return { kind: "permanent", error: "file_missing", reason: `cannot read ${o.file}: ${(e as Error).message}` };
  }
  if (size !== o.meta.bytes) {
    return { kind: "permanent", error: "file_changed", reason: `${o.file} has ${size} bytes, its record says ${o.meta.bytes}` };
  }
  if (o.signal?.aborted) return { kind: "aborted" };
  const url = chunkUploadUrl(o.api, o.meta.camera, o.meta.seq);
  const client = url.protocol === "https:" ? https : http;
  const idleMs = o.idleTimeoutMs ?? 30_000;

  return new Promise<PutOutcome>((resolve) => {
    let settled = false;
    let answered = false;
    const settle = (out: PutOutcome) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener("abort", onAbort);
      resolve(out);
    };
    const failed = (e: Error) => {
      if (o.signal?.aborted) settle({ kind: "aborted" });
      else settle({ kind: "retry", error: "network", reason: e.message || String(e) });
    };
    const req = client.request(url, {
      method: "PUT",
      ...(o.agent ? { agent: o.agent } : {}),
      headers: {
        authorization: basicAuth(o.meta.camera, o.secret),
        "footfall-chunk-meta": chunkMetaHeader(o.meta),
        "content-type": "application/octet-stream",
        "content-length": String(size),
      },
    });
    const onAbort = () => req.destroy(new Error("upload aborted"));
    o.signal?.addEventListener("abort", onAbort, { once: true });
    req.setTimeout(idleMs, () => req.destroy(new Error(`no progress for ${idleMs} ms`)));
    req.on("error", (e) => { if (!answered) failed(e); });
    req.on("response", (res) => {
      answered = true;
      const parts: Buffer[] = [];
      let n = 0;
      res.on("data", (b: Buffer) => { if (n < MAX_ANSWER_BYTES) { parts.push(b); n += b.length; } });
      res.on("error", failed);
      res.on("close", () => {
        if (!res.complete) { failed(new Error("the answer was cut off")); return; }
        const ra = res.headers["retry-after"];
        settle(classifyAnswer(res.statusCode ?? 0, Buffer.concat(parts).toString("utf8"), Array.isArray(ra) ? ra[0] : ra));
      });
    });
    const body = createReadStream(o.file);
    body.on("error", (e) => {
      req.destroy(e);
      settle({ kind: "permanent", error: "file_unreadable", reason: `reading ${o.file}: ${e.message}` });
    });
    body.pipe(req);
  });
}
