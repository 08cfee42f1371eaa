import https from "node:https";
import type { AddressInfo } from "node:net";
import { jetstream } from "@nats-io/jetstream";
import { checkAdminToken, influxUrlOf, natsUrlOf, type Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { createRegistry } from "../infra/metrics.ts";
import { HANDSHAKE_TIMEOUT_MS, serverTlsOf } from "../infra/tls.ts";
import { influxClient, provisionInflux, provisionNats } from "../infra/provision.ts";
import { TopologyStore } from "../topology/topology-store.ts";
import { DeviceRegistry } from "../topology/devices/device-registry.ts";
import { ActorPublisher } from "../broker/actor-publisher.ts";
import type { AttributeExtractor } from "../models/extractor.ts";
import { NatsExtractor } from "../models/nats-extractor.ts";
import { KeyStore } from "../access/key-store.ts";
import { Readers } from "../access/reader.ts";
import { throttleConfigOf } from "../access/auth-throttle.ts";
import { LoginThrottle } from "../access/login-throttle.ts";
import { createApiApp, type ApiApp } from "./app.ts";
import type { TrackApiOptions } from "./tracks/track-api.ts";
import { openVideoService, type VideoService } from "../video/store/video-service.ts";
import { startLiveGateway, type LiveGateway } from "../dashboards/gateway/gateway.ts";

/**
 * The API process: NATS + InfluxDB provisioned, the express app listening on cfg.bind:cfg.httpPort
 * (HTTPS only when FOOTFALL_TLS_CERT / _KEY are set),
 * the reprocessing job runner working beside it. `extractor`: what reprocessing jobs extract
 * attributes with; by default whichever extractor serves on NATS (models/nats-extractor.ts; none
 * running: such jobs fail with a reason).
 */
export async function runApi(
  cfg: Config,
  opts: { extractor?: AttributeExtractor; track?: TrackApiOptions } = {},
): Promise<{ port: number; stop(): Promise<void> }> {
  checkAdminToken(cfg);
  const log = createLogger("api", cfg.logLevel);
  // with a certificate, HTTPS only on cfg.httpPort (no plain HTTP listener)
  const tls = serverTlsOf(cfg);
  const nc = await connectNats(natsUrlOf(cfg), "footfall-api", log);
  let api: ApiApp | undefined;
  let video: VideoService | undefined;
  let keys: KeyStore | undefined;
  let live: LiveGateway | undefined;
  let closing = false;
  let stopSharing: (() => void) | undefined;
  try {
    await provisionNats(nc, cfg, log);
    const influx = influxClient(influxUrlOf(cfg), cfg.influxDb);
    await provisionInflux(influx, cfg, log);
    const topology = await TopologyStore.open(nc, log.child({ component: "topology" }));
    const registry = await DeviceRegistry.open(nc, log.child({ component: "registry" }));
    keys = await KeyStore.open(nc, log.child({ component: "keys" }));
    const readers = new Readers(cfg.adminToken, keys);
    const publisher = new ActorPublisher(jetstream(nc), { partitions: cfg.partitions });
    video = await openVideoService(cfg, registry, log, { nc });
    const metrics = createRegistry("api");
    // failed logins over HTTP, the wall and the live feed count together
    const throttle = new LoginThrottle(throttleConfigOf(cfg), "http", metrics, log);
    // and with those of every other API process
    stopSharing = throttle.share(nc);
    api = createApiApp({
      cfg, influx, topology, registry, publisher, log, metrics, nc, readers, throttle,
      extractor: opts.extractor ?? new NatsExtractor(nc), track: opts.track, video, closing: () => closing,
    });
    // the live feed (websocket LIVE_PATH) on the same port
    live = startLiveGateway({ cfg, nc, influx, topology, readers, throttle, log: log.child({ component: "live" }), metrics });

    const server = tls
      ? https.createServer({ cert: tls.cert, key: tls.key, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, api.app).listen(cfg.httpPort, cfg.bind)
      : api.app.listen(cfg.httpPort, cfg.bind);
    live.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    const port = (server.address() as AddressInfo).port;
    log.info({ bind: cfg.bind, port, https: Boolean(tls) }, "api listening");

    let stopping: Promise<void> | undefined;
    return {
      port,
      stop: () => (stopping ??= (async () => {
        closing = true;
        const closed = new Promise<void>((r) => { server.close(() => r()); server.closeIdleConnections(); setTimeout(() => server.closeAllConnections(), 2000).unref(); });
        await live?.close();
        await closed;
        await api?.close();
        await video?.stop();
        stopSharing?.();
        keys?.close();
        registry.close();
        await nc.drain().catch(() => {});
        log.info("api stopped");
      })()),
    };
  } catch (e) {
    await live?.close().catch(() => {});
    await api?.close().catch(() => {});
    await video?.stop().catch(() => {});
    keys?.close();
    await nc.close().catch(() => {});
    throw e;
  }
}
