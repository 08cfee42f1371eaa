import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/**
 * /healthz and /metrics for a long-running process that has no HTTP API of its own
 * (broker, actor host). `health()` returns details; ok=false answers 503.
 */
export interface OpsServer { port: number; close(): Promise<void> }

export async function startOpsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  health: () => { ok: boolean; [k: string]: unknown };
}): Promise<OpsServer> {
  const server = http.createServer(async (req, res) => {
    try {
      if (req.url === "/metrics") {
        res.writeHead(200, { "content-type": opts.registry.contentType });
        res.end(await opts.registry.metrics());
      } else if (req.url === "/healthz") {
        const h = opts.health();
        res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify(h));
      } else {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "not_found", reason: "only /healthz and /metrics here" }));
      }
    } catch (e) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "internal", reason: (e as Error).message }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
