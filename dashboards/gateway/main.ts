import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { checkAdminToken, influxUrlOf, natsUrlOf, type Config } from "../../infra/config.ts";
import { createLogger, type Logger } from "../../infra/log.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { connectNats } from "../../infra/nats.ts";
import { HANDSHAKE_TIMEOUT_MS, serverTlsOf } from "../../infra/tls.ts";
import { influxClient, provisionInflux, provisionNats } from "../../infra/provision.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import { KeyStore } from "../../access/key-store.ts";
import { throttleConfigOf } from "../../access/auth-throttle.ts";
import { LoginThrottle } from "../../access/login-throttle.ts";
import { Readers } from "../../access/reader.ts";
import { TopologyStore } from "../../topology/topology-store.ts";
import { startLiveGateway, type LiveGateway } from "./gateway.ts";

export interface RunningGateway {
  port: number;
  gateway: LiveGateway;
  stop(): Promise<void>;
}

/** Retries a start-up step through transient failures (a NATS that is still coming up). */
async function untilDone<T>(what: string, fn: () => Promise<T>, log: Logger, attempts = 40): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try { return await fn(); } catch (e) {
      if (attempt >= attempts) throw e;
      log.warn({ err: e, attempt }, `${what} failed; retrying`);
      await pause(backoffMs(attempt, 1000));
    }
  }
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

/**
 * `footfall gateway`: the live feed alone, for running several behind a balancer. One HTTP
 * server on cfg.bind:cfg.gatewayPort (HTTPS only when FOOTFALL_TLS_CERT / _KEY are set): the websocket at /api/v1/live, /healthz (200 only while
 * NATS is connected and the feed follows FF_EVENTS) and /metrics. stop(): every socket closed
 * with 1001, the feed's consumer stopped, NATS drained.
 */
export async function runGateway(cfg: Config): Promise<RunningGateway> {
  checkAdminToken(cfg);
  const log = createLogger("gateway", cfg.logLevel);
  // with a certificate, HTTPS (and wss://) only on cfg.gatewayPort, /healthz and /metrics included
  const tls = serverTlsOf(cfg);
  const metrics = createRegistry("gateway");
  const nc = await untilDone("connecting to NATS", () => connectNats(natsUrlOf(cfg), "footfall-gateway", log), log);
  let natsUp = true;
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") natsUp = false;
      else if (s.type === "reconnect") natsUp = true;
    }
  })().catch(() => {});

  let keys: KeyStore | undefined;
  let gateway: LiveGateway | undefined;
  try {
    await untilDone("provisioning NATS", () => provisionNats(nc, cfg, log), log);
    // counts older than the stream's day and device health are read from InfluxDB
    const influx = influxClient(influxUrlOf(cfg), cfg.influxDb);
    await untilDone("provisioning InfluxDB", () => provisionInflux(influx, cfg, log), log);
    keys = await KeyStore.open(nc, log.child({ component: "keys" }));
    const topology = await TopologyStore.open(nc, log.child({ component: "topology" }));
    const live = startLiveGateway({
      cfg, nc, influx, topology, readers: new Readers(cfg.adminToken, keys),
      throttle: new LoginThrottle(throttleConfigOf(cfg), "http", metrics, log),
      log, metrics,
    });
    gateway = live;

    const health = () => {
      const h = live.health();
      const nats = natsUp && !nc.isClosed();
      return { ...h, ok: h.ok && nats, nats: nats ? "connected" : "disconnected" };
    };
    const handle: http.RequestListener = (req, res) => {
      void (async () => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, { error: "method_not_allowed", reason: "only GET here" });
        if (path === "/healthz") {
          const h = health();
          return json(res, h.ok ? 200 : 503, h);
        }
        if (path === "/metrics") {
          res.writeHead(200, { "content-type": metrics.contentType });
          return void res.end(await metrics.metrics());
        }
        json(res, 404, { error: "not_found", reason: `no route ${req.method} ${path}: the live feed is a websocket at /api/v1/live` });
      })().catch((err: unknown) => {
        log.error({ err }, "gateway http request failed");
        if (!res.headersSent) json(res, 500, { error: "internal", reason: "the request failed" });
      });
    };
    const server = tls
      ? https.createServer({ cert: tls.cert, key: tls.key, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, handle)
      : http.createServer(handle);
    live.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(cfg.gatewayPort, cfg.bind, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    log.info({ bind: cfg.bind, port, https: Boolean(tls) }, "gateway listening");

    let stopping: Promise<void> | undefined;
    const store = keys;
    return {
      port, gateway: live,
      stop: () => (stopping ??= (async () => {
        log.info("gateway stopping");
        const closed = new Promise<void>((r) => server.close(() => r()));
        await live.close();
        server.closeAllConnections();
        await closed;
        store.close();
        await nc.drain().catch(() => {});
        log.info("gateway stopped");
      })()),
    };
  } catch (e) {
    await gateway?.close().catch(() => {});
    keys?.close();
    await nc.close().catch(() => {});
    throw e;
  }
}
