/**
 * A small HTTP server implementing the chunk upload contract (common contract; the real route is
 * api/video-routes.ts) on top of the REAL chunk store (video/store/chunk-store.ts),
 * for the uploader's tests and benchmark:
 *
 *   PUT /api/v1/cameras/{camera}/chunks/{seq}   Basic camera:secret, Footfall-Chunk-Meta, body = chunk
 *   → 201 stored | 200 duplicate | 400 | 401 | 403 | 409 | 413 | 422 | 503, errors {"error","reason"}
 *
 * The body is streamed to a temp file and put into the store (which checks the signature with
 * the authenticated secret, the sha256 and the size). Tests can inject faults before the body is
 * read (503, 429, a connection reset), hold an answer (`beforeAnswer`), and take the server down
 * and up again on the same port. Every request is logged with its answer; the number of
 * requests in progress at once is tracked.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { ChunkStore, type PutRefusal } from "../../../video/store/chunk-store.ts";

export type InjectedFault = "503" | "429" | "reset";

export interface StoreRequest {
  camera: string;
  seq: number;
  /** HTTP status answered (0: connection reset) */
  status: number;
  /** "stored" | "duplicate" | error code | "reset" */
  result: string;
}

export interface StoreServerOptions {
  /** chunk store folder */
  root: string;
  /** camera id → device secret */
  secrets: Record<string, string>;
  /** decides a fault for the n-th request (1-based) of a chunk, before its body is read */
  fault?: (r: { camera: string; seq: number; n: number }) => InjectedFault | undefined;
  /** awaited before the answer is written (after the store took the chunk or refused it) */
  beforeAnswer?: (r: { camera: string; seq: number; status: number; n: number }) => Promise<void> | void;
  maxBytes?: number;
  port?: number;
}

export interface StoreServer {
  url: string;
  port: number;
  store: ChunkStore;
  requests: StoreRequest[];
  /** requests being handled now / the most at once */
  inFlight: number;
  maxInFlight: number;
  /** closes the listener and drops every connection (the port stays ours to start again) */
  down(): Promise<void>;
  /** listens again on the same port */
  up(): Promise<void>;
  close(): Promise<void>;
}

const REFUSAL_STATUS: Record<PutRefusal, number> = {
  invalid_record: 400, unknown_camera: 403, bad_signature: 422, hash_mismatch: 422, conflict: 409,
};

export async function startStoreServer(o: StoreServerOptions): Promise<StoreServer> {
  const store = await ChunkStore.open({ root: o.root, keyOf: (c) => o.secrets[c] });
  const tmpDir = path.join(o.root, "incoming");
  await mkdir(tmpDir, { recursive: true });
  const perChunk = new Map<string, number>();
  const maxBytes = o.maxBytes ?? 256 * 1024 * 1024;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, s: StoreServer): Promise<void> => {
    const m = /^\/api\/v1\/cameras\/([^/]+)\/chunks\/(\d+)$/.exec(req.url ?? "");
    const answer = (status: number, body: object, result: string, camera = "", seq = -1) => {
      if (seq >= 0) s.requests.push({ camera, seq, status, result });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, error: string, reason: string, camera = "", seq = -1) => {
      req.resume();
      answer(status, { error, reason }, error, camera, seq);
    };
    if (req.method !== "PUT" || !m) return refuse(404, "not_found", `no route ${req.method} ${req.url}`);
    const camera = decodeURIComponent(m[1]!);
    const seq = Number(m[2]);
    const n = (perChunk.get(`${camera}/${seq}`) ?? 0) + 1;
    perChunk.set(`${camera}/${seq}`, n);

    const fault = o.fault?.({ camera, seq, n });
    if (fault === "reset") {
      s.requests.push({ camera, seq, status: 0, result: "reset" });
      req.socket.resetAndDestroy();
      return;
    }
    if (fault === "503" || fault === "429") {
      res.setHeader("retry-after", "0");
      return refuse(Number(fault), fault === "503" ? "unavailable" : "too_many_requests", "injected fault", camera, seq);
    }

    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
    const [user, ...rest] = auth ? Buffer.from(auth[1]!, "base64").toString("utf8").split(":") : [];
    const secret = rest.join(":");
    if (!user || o.secrets[user] === undefined || o.secrets[user] !== secret) return refuse(401, "unauthorized", "bad camera credentials", camera, seq);
    if (user !== camera) return refuse(403, "forbidden", `camera ${user} may not upload chunks of ${camera}`, camera, seq);
    let meta: { camera?: unknown; seq?: unknown; bytes?: unknown };
    try {
      meta = JSON.parse(Buffer.from(String(req.headers["footfall-chunk-meta"] ?? ""), "base64url").toString("utf8")) as typeof meta;
    } catch {
      return refuse(400, "invalid_request", "Footfall-Chunk-Meta is not base64url JSON", camera, seq);
    }
    if (meta.camera !== camera || meta.seq !== seq) return refuse(400, "invalid_request", "the record's camera/seq differ from the URL's", camera, seq);
    const length = Number(req.headers["content-length"]);
    if (!Number.isInteger(length)) return refuse(400, "invalid_request", "Content-Length is required", camera, seq);
    if (length > maxBytes) return refuse(413, "too_large", `chunk of ${length} bytes (limit ${maxBytes})`, camera, seq);
    if (length !== meta.bytes) return refuse(400, "invalid_request", `Content-Length ${length} differs from the record's ${String(meta.bytes)} bytes`, camera, seq);

    const tmp = path.join(tmpDir, `${camera}-${seq}-${randomBytes(4).toString("hex")}`);
    try {
      await pipeline(req, createWriteStream(tmp));
      const put = await store.put(meta, tmp, secret);
      const status = put.ok ? (put.status === "stored" ? 201 : 200) : REFUSAL_STATUS[put.code];
      await o.beforeAnswer?.({ camera, seq, status, n });
      if (put.ok) answer(status, { status: put.status, camera, seq }, put.status, camera, seq);
      else answer(status, { error: put.code, reason: put.reason }, put.code, camera, seq);
    } finally {
      await rm(tmp, { force: true });
    }
  };

  const sockets = new Set<import("node:net").Socket>();
  let server: http.Server | undefined;
  const s: StoreServer = {
    url: "", port: o.port ?? 0, store, requests: [], inFlight: 0, maxInFlight: 0,
    async up() {
      const srv = http.createServer((req, res) => {
        s.inFlight++;
        s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
        // done when the answer is handed to the kernel (or the connection is gone)
        let open = true;
        const done = () => { if (open) { open = false; s.inFlight--; } };
        res.once("finish", done);
        res.once("close", done);
        handle(req, res, s).catch((e: unknown) => {
          if (!res.headersSent) {
            res.writeHead(500, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: "internal", reason: (e as Error).message }));
          } else res.destroy();
        });
      });
      srv.on("connection", (sock) => { sockets.add(sock); sock.once("close", () => sockets.delete(sock)); });
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(s.port, "127.0.0.1", () => { srv.off("error", reject); resolve(); });
      });
      server = srv;
      s.port = (srv.address() as AddressInfo).port;
      s.url = `http://127.0.0.1:${s.port}`;
    },
    async down() {
      const srv = server;
      server = undefined;
      if (!srv) return;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
    close: () => s.down(),
  };
  await s.up();
  return s;
}
