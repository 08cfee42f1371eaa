import type http from "node:http";
import type { Duplex } from "node:stream";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import type { Registry } from "prom-client";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { FootfallEvent } from "../../contracts/events.ts";
import {
  ClientMessage, LIVE_MAX_CLIENT_MESSAGE_BYTES, LIVE_PATH, LIVE_PROTOCOL_VERSION, LiveClose,
  type DeviceState, type DeviceUpdate, type Heartbeat, type Refusal, type Resumed, type Subscribe,
} from "../../contracts/live-protocol.ts";
import { STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import { MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import { presentedSecret } from "../../access/credential.ts";
import type { LoginThrottle } from "../../access/login-throttle.ts";
import { mayRead, principalName, type Principal, type Readers } from "../../access/reader.ts";
import type { Config } from "../../infra/config.ts";
import type { Logger } from "../../infra/log.ts";
import { Semaphore } from "../../infra/semaphore.ts";
import { describeIssues } from "../../infra/zod-issues.ts";
import type { TopologyStore } from "../../topology/topology-store.ts";
import { OccupancyReader } from "../../api/occupancy/occupancy-reader.ts";
import { DeviceHealth } from "./device-health.ts";
import { EventFeed } from "./event-feed.ts";
import { GatewayMetrics, type DisconnectReason } from "./gateway-metrics.ts";
import { LiveClient, MAX_WAITING, type Outgoing } from "./live-client.ts";
import { LiveState, type SiteFilter } from "./live-state.ts";
import { readEvent, SiteReplay, type StreamEvent } from "./stream-reads.ts";

export interface LiveGatewayDeps {
  cfg: Pick<Config, "influxDb" | "liveResumeS" | "liveMaxBufferBytes" | "liveSlowMs" | "livePingMs" | "liveHeartbeatMs" | "liveDeviceMs" | "dpuSilentS" | "personSilenceS">;
  nc: NatsConnection;
  influx: InfluxDB;
  topology: TopologyStore;
  readers: Readers;
  /** failed logins throttled per address and key id (shared with the HTTP routes of the same process) */
  throttle?: LoginThrottle;
  log: Logger;
  metrics: Registry;
}

export interface LiveGateway {
  /** Serves the live feed on `server`'s upgrades to LIVE_PATH (others are answered 404). */
  attach(server: http.Server): void;
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** ok: the feed follows FF_EVENTS (caught up once, consumer alive, NATS connected) */
  health(): { ok: boolean; feed: "following" | "starting" | "stalled"; position: number; clients: number };
  /** Closes every socket with 1001 and stops the feed. */
  close(): Promise<void>;
}

/** Replays from JetStream running at once per process (others wait their turn, their live updates held). */
const REPLAYS_AT_ONCE = 4;
/** A replay that has not finished in this long is abandoned for a snapshot. */
const REPLAY_TIMEOUT_MS = 30_000;
/** InfluxDB reads at once when a snapshot fills counts the stream no longer holds. */
const INFLUX_AT_ONCE = 16;
/** Pings a socket may leave unanswered in a row; at the next one it is cut off. */
const MISSED_PINGS = 2;
/** How long close() waits for clients to answer the 1001 close before cutting them off. */
const CLOSE_WAIT_MS = 2000;
/** A WebSocket close reason is at most 123 bytes. */
const reasonText = (r: string) => (Buffer.byteLength(r) <= 123 ? r : Buffer.from(r).subarray(0, 120).toString().replace(/\uFFFD$/, "") + "...");

/** The coalescing key, metric type and event time of an event. */
function describe(e: FootfallEvent): { key: string; time: number } {
  switch (e.type) {
    case "occupancy.changed": return { key: `o:${e.space}`, time: e.at };
    case "site_occupancy.changed": return { key: "s", time: e.at };
    case "alert.capacity": return { key: `a:${e.space}`, time: e.at };
    case "track.update": return { key: `t:${e.camera}`, time: e.receivedAt };
    case "person.update": return { key: `p:${e.person}`, time: e.at[0] };
    case "ingest.rate": return { key: `i:${e.broker}`, time: e.at };
  }
}

/** Whether a client with this filter wants the event. */
function wants(f: SiteFilter, e: FootfallEvent): boolean {
  if ((e.type === "occupancy.changed" || e.type === "alert.capacity") && f.spaces) return f.spaces.has(e.space);
  if (e.type === "track.update" && f.cameras) return f.cameras.has(e.camera);
  return true;
}

const wantsDevice = (f: SiteFilter, d: DeviceState) => d.kind !== "camera" || !f.cameras || f.cameras.has(d.device);

class ReplayIncomplete extends Error {}

/**
 * The live feed (websocket LIVE_PATH, protocol in contracts/live-protocol.ts): one reader of
 * FF_EVENTS per process (EventFeed) keeps every site's current state (LiveState) and fans each
 * event out to the sockets subscribed to its site. Runs inside the API process and alone as
 * `footfall gateway`; processes share nothing, so any number can sit behind a balancer.
 */
export function startLiveGateway(deps: LiveGatewayDeps): LiveGateway {
  const { cfg, log } = deps;
  const js: JetStreamClient = jetstream(deps.nc);
  let jsm: JetStreamManager | undefined;
  const state = new LiveState(cfg.personSilenceS * 1000);
  const devices = new DeviceHealth(deps.influx, cfg.influxDb, cfg.dpuSilentS * 1000);
  const occupancy = new OccupancyReader(deps.influx, cfg.influxDb);
  const clients = new Set<LiveClient>();
  const bySite = new Map<string, Set<LiveClient>>();
  const replays = new Set<SiteReplay>();
  const replaySlots = new Semaphore(REPLAYS_AT_ONCE);
  const resumeMs = cfg.liveResumeS * 1000;
  let closing = false;

  const metrics = new GatewayMetrics(deps.metrics, () => {
    const n = new Map<string, number>();
    for (const c of clients) n.set(c.sub?.site ?? "", (n.get(c.sub?.site ?? "") ?? 0) + 1);
    return n;
  }, () => feed.position);

  const wss = new WebSocketServer({ noServer: true, maxPayload: LIVE_MAX_CLIENT_MESSAGE_BYTES, clientTracking: false, perMessageDeflate: false });

  // ---- the feed: state, then fan-out ----
  const feed = new EventFeed(deps.nc, js, {
    bootstrap: (e) => state.apply(e.seq, e.event, e.storedAt),
    live: (e) => {
      state.apply(e.seq, e.event, e.storedAt);
      metrics.feedEvents.inc({ type: e.event.type });
      const subscribed = bySite.get(e.site);
      if (!subscribed?.size) return;
      const m = updateOf(e, true);
      for (const c of subscribed) if (wants(c.sub!.filter, e.event)) c.offer(m);
    },
    invalid: (seq, subject, reason) => {
      metrics.feedInvalid.inc({ reason });
      log.warn({ seq, subject, reason }, "FF_EVENTS message is not a valid event; skipped");
    },
  }, log, cfg.personSilenceS * 1000);
  feed.start();

  function updateOf(e: StreamEvent, live: boolean): Outgoing {
    const d = describe(e.event);
    return {
      key: d.key, type: e.event.type,
      text: `{"v":${LIVE_PROTOCOL_VERSION},"t":"update","seq":${e.seq},"event":${e.raw}}`,
      ...(live ? { eventTime: d.time } : {}),
    };
  }

  function deviceUpdateOf(site: string, device: DeviceState): Outgoing {
    const msg: DeviceUpdate = { v: LIVE_PROTOCOL_VERSION, t: "device", site, device };
    return { key: `d:${device.device}`, type: "device", text: JSON.stringify(msg) };
  }

  /** In order behind the client's unsent updates (one waiting at most): it arrives when the client is current. */
  function heartbeatOf(): Outgoing {
    const msg: Heartbeat = { v: LIVE_PROTOCOL_VERSION, t: "heartbeat", now: Date.now(), seq: feed.position, every: cfg.liveHeartbeatMs };
    return { key: "h", type: "heartbeat", text: JSON.stringify(msg) };
  }

  // ---- sockets ----
  function register(c: LiveClient): void {
    const site = c.sub!.site;
    let set = bySite.get(site);
    if (!set) bySite.set(site, (set = new Set()));
    set.add(c);
  }

  function unregister(c: LiveClient): void {
    const site = c.sub?.site;
    if (site === undefined) return;
    const set = bySite.get(site);
    set?.delete(c);
    if (set?.size === 0) bySite.delete(site);
  }

  /** Refusal (for application codes), then the close; the socket's unsent updates are dropped. */
  function closeClient(c: LiveClient, code: number, reason: string, why: DisconnectReason): void {
    if (c.closing) return;
    c.closing = why;
    metrics.disconnects.inc({ reason: why });
    c.clear();
    unregister(c);
    if (code >= 4000) {
      const refusal: Refusal = { v: LIVE_PROTOCOL_VERSION, t: "refused", code, reason };
      c.control(JSON.stringify(refusal), "refused");
    }
    c.ws.close(code, reasonText(reason));
    if (why !== "shutdown") log.info({ client: c.id, who: principalName(c.principal), remote: c.remote, code, reason }, "live client closed");
  }

  function refuseSocket(ws: WebSocket, code: number, reason: string, why: DisconnectReason, remote: string): void {
    const refusal: Refusal = { v: LIVE_PROTOCOL_VERSION, t: "refused", code, reason };
    ws.send(JSON.stringify(refusal));
    ws.close(code, reasonText(reason));
    metrics.sent.inc({ type: "refused" });
    metrics.disconnects.inc({ reason: why });
    log.info({ remote, code, reason }, "live feed refused");
  }

  /**
   * The socket's key, checked through the login throttle (a banned address is refused unchecked
   * with 4429; a throttled one waits, its socket paused so its first messages wait in TCP), then
   * the cookie's origin. Undefined: the socket was refused.
   */
  async function admitted(ws: WebSocket, req: http.IncomingMessage, remote: string): Promise<Principal | undefined> {
    const secret = presentedSecret(req.headers);
    if (!secret) {
      refuseSocket(ws, LiveClose.unauthorized, "no credential: send Authorization: Bearer <key>, or open the wall page with its key", "unauthorized", remote);
      return undefined;
    }
    const verify = (k: string) => deps.readers.authenticate(k);
    let checked: { retryAfterS: number } | { holder: Principal | undefined };
    if (deps.throttle) {
      ws.pause();
      checked = await deps.throttle.checkKey(req.socket.remoteAddress, secret, verify);
      if (ws.readyState !== ws.OPEN || closing) return undefined;
      ws.resume();
    } else {
      checked = { holder: verify(secret) };
    }
    if ("retryAfterS" in checked) {
      refuseSocket(ws, LiveClose.tooManyLogins, `too many failed logins from ${req.socket.remoteAddress}: try again in ${checked.retryAfterS} s`, "throttled", remote);
      return undefined;
    }
    if (!checked.holder) {
      refuseSocket(ws, LiveClose.unauthorized, "not a valid key (unknown, revoked or mistyped)", "unauthorized", remote);
      return undefined;
    }
    const origin = req.headers.origin;
    if (req.headers.authorization === undefined && origin !== undefined && !sameOrigin(origin, req)) {
      // the wall's cookie goes with any request to this host: only our own pages may use it
      refuseSocket(ws, LiveClose.forbidden, "the wall's cookie is honoured only from a page of the same origin", "forbidden", remote);
      return undefined;
    }
    return checked.holder;
  }

  function onConnection(ws: WebSocket, req: http.IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
    ws.on("error", (err) => log.debug({ err, remote }, "live socket error"));
    if (closing) return void ws.close(LiveClose.goingAway, "server shutting down");
    void admitted(ws, req, remote).then((principal) => {
      if (principal) accept(ws, principal, remote);
    }, (err: unknown) => {
      log.error({ err, remote }, "live socket admission failed");
      ws.terminate();
    });
  }

  function accept(ws: WebSocket, principal: Principal, remote: string): void {
    const c: LiveClient = new LiveClient(ws, principal, remote, cfg.liveMaxBufferBytes, metrics, () =>
      closeClient(c, LiveClose.tooSlow, `too slow: more than ${MAX_WAITING} updates waiting`, "too_slow"));
    clients.add(c);
    ws.on("pong", () => { c.unanswered = 0; });
    ws.on("message", (data, isBinary) => onMessage(c, data, isBinary));
    ws.on("close", (code) => {
      clients.delete(c);
      unregister(c);
      c.clear();
      // closes we started were counted when we started them
      if (!c.closing) metrics.disconnects.inc({ reason: code === 1009 ? "bad_request" : "client" });
    });
    log.debug({ client: c.id, who: principalName(c.principal), remote }, "live client connected");
  }

  function onMessage(c: LiveClient, data: RawData, isBinary: boolean): void {
    if (c.closing) return;
    if (isBinary) return closeClient(c, LiveClose.badRequest, "binary messages are not part of the protocol", "bad_request");
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return closeClient(c, LiveClose.badRequest, "not JSON", "bad_request");
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) return closeClient(c, LiveClose.badRequest, `not a subscribe of version ${LIVE_PROTOCOL_VERSION}: ${describeIssues(parsed.error, 3)}`, "bad_request");
    const msg = parsed.data;
    if (!mayRead(c.principal, msg.site)) return closeClient(c, LiveClose.forbidden, `this key may not read site "${msg.site}"`, "forbidden");
    c.next = msg;
    if (!c.answering) void answer(c);
  }

  /** Answers the client's Subscribes one at a time; a newer one waiting makes the current one give up. */
  async function answer(c: LiveClient): Promise<void> {
    c.answering = true;
    try {
      while (c.next && !c.closing) {
        const msg = c.next;
        c.next = undefined;
        try {
          await subscribe(c, msg);
        } catch (err) {
          if (c.closing) break;
          log.warn({ err, client: c.id, site: msg.site }, "live subscribe failed");
          if (!c.next) closeClient(c, 1011, "the server could not read the site's state; reconnect", "error");
        }
      }
    } finally {
      c.answering = false;
    }
  }

  async function subscribe(c: LiveClient, msg: Subscribe): Promise<void> {
    const superseded = () => c.closing !== undefined || c.next !== undefined;
    unregister(c);
    c.clear();
    c.sub = undefined;
    await feed.ready;
    const topo = await deps.topology.get(msg.site);
    if (superseded()) return;
    if (!topo) return closeClient(c, LiveClose.notFound, `site "${msg.site}" has no topology`, "not_found");
    c.sub = {
      site: topo.site,
      filter: { ...(msg.spaces ? { spaces: new Set(msg.spaces) } : {}), ...(msg.cameras ? { cameras: new Set(msg.cameras) } : {}) },
    };
    if (msg.since !== undefined && (await resumable(msg.since))) {
      if (superseded()) return;
      try {
        await resume(c, topo, msg.since, superseded);
        metrics.subscribes.inc({ outcome: "resumed" });
        return;
      } catch (err) {
        if (!(err instanceof ReplayIncomplete) || superseded()) throw err;
        log.warn({ client: c.id, site: topo.site, since: msg.since }, "resume could not be completed; sending a snapshot");
        unregister(c);
        c.clear();
        await snapshot(c, topo, superseded);
        metrics.subscribes.inc({ outcome: "snapshot_after_resume" });
        return;
      }
    }
    await snapshot(c, topo, superseded);
    metrics.subscribes.inc({ outcome: "snapshot" });
  }

  /** Whether the events after `since` are all still in the stream, and none older than the resume bound. */
  async function resumable(since: number): Promise<boolean> {
    const position = feed.position;
    if (since > position) return false;
    if (since === position) return true;
    jsm ??= await jetstreamManager(deps.nc);
    const first = await jsm.streams.getMessage(STREAM_EVENTS, { seq: since + 1 });
    return first !== null && Date.now() - first.time.getTime() <= resumeMs;
  }

  /** The site's state as of the feed's position, then its live updates. */
  async function snapshot(c: LiveClient, topo: StoredTopology, superseded: () => boolean): Promise<void> {
    await fillFromInflux(topo);
    const states = await deviceStates(topo);
    if (superseded()) return;
    // from here to register() nothing awaits: the snapshot holds every event up to
    // feed.position, and every later one reaches the client as an Update
    const snap = state.snapshot(topo, c.sub!.filter, states, feed.position, Date.now());
    c.control(JSON.stringify(snap), "snapshot");
    register(c);
    c.offer(heartbeatOf());
  }

  /** Resumed, the site's events after `since` from JetStream, then the live ones held meanwhile, then every device's state. */
  async function resume(c: LiveClient, topo: StoredTopology, since: number, superseded: () => boolean): Promise<void> {
    const states = await deviceStates(topo);
    if (superseded()) return;
    const upto = feed.position;
    c.hold();
    register(c);
    const resumed: Resumed = { v: LIVE_PROTOCOL_VERSION, t: "resumed", site: topo.site, since };
    c.control(JSON.stringify(resumed), "resumed");
    if (since < upto) {
      await replaySlots.acquire();
      const replay = new SiteReplay(js, topo.site, since, upto);
      replays.add(replay);
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; replay.stop(); }, REPLAY_TIMEOUT_MS);
      let last = since;
      try {
        for await (const m of replay.messages()) {
          if (superseded()) break;
          last = m.seq;
          const e = readEvent(m);
          if (!("invalid" in e) && wants(c.sub!.filter, e.event)) c.push(updateOf(e, false));
        }
      } catch (err) {
        if (!superseded()) throw new ReplayIncomplete(`replay failed: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
        replays.delete(replay);
        replaySlots.release();
      }
      if (superseded()) return;
      if (timedOut) throw new ReplayIncomplete(`replay timed out after event ${last}`);
    }
    c.release();
    for (const d of states) if (wantsDevice(c.sub!.filter, d)) c.offer(deviceUpdateOf(topo.site, d));
    c.offer(heartbeatOf());
  }

  /** Counts no event in the stream holds, read from InfluxDB as the REST API reads them. */
  async function fillFromInflux(topo: StoredTopology): Promise<void> {
    const missing = state.missing(topo);
    const now = Date.now();
    if (missing.total) {
      const count = await occupancy.countAt({ measurement: MEASUREMENT_SITE_OCCUPANCY, site: topo.site }, now);
      state.fillTotal(topo.site, count);
    }
    for (let i = 0; i < missing.spaces.length; i += INFLUX_AT_ONCE) {
      await Promise.all(missing.spaces.slice(i, i + INFLUX_AT_ONCE).map(async (space) => {
        const count = await occupancy.countAt({ measurement: MEASUREMENT_OCCUPANCY, site: topo.site, space }, now);
        state.fillSpace(topo.site, space, count);
      }));
    }
  }

  // ---- timers: device health, pings, heartbeats, slow clients ----
  let polling = false;
  const deviceTimer = setInterval(() => {
    if (polling) return;
    polling = true;
    void pollDevices().finally(() => { polling = false; });
  }, cfg.liveDeviceMs);
  deviceTimer.unref();

  async function pollDevices(): Promise<void> {
    state.prune(Date.now());
    for (const site of devices.followed()) if (!bySite.has(site)) devices.forget(site);
    for (const site of [...bySite.keys()]) {
      try {
        const topo = await deps.topology.get(site);
        if (topo) await refreshDevices(topo);
      } catch (err) {
        log.warn({ err, site }, "device health could not be read");
      }
    }
  }

  /** Every device's state of the site: as followed, or read now if the site is not followed with its current devices. */
  async function deviceStates(topo: StoredTopology): Promise<DeviceState[]> {
    return devices.covers(topo) ? devices.current(topo.site)! : refreshDevices(topo);
  }

  /** Reads the site's device health, sends the changes to its subscribed clients and returns every device's state. */
  async function refreshDevices(topo: StoredTopology): Promise<DeviceState[]> {
    const { all, changed } = await devices.refresh(topo);
    const subscribed = bySite.get(topo.site);
    for (const d of changed) {
      const m = deviceUpdateOf(topo.site, d);
      for (const c of subscribed ?? []) if (wantsDevice(c.sub!.filter, d)) c.offer(m);
    }
    return all;
  }

  const pingTimer = setInterval(() => {
    for (const c of clients) {
      // a socket we are closing gets its close handshake's time (ws cuts it after 30 s)
      if (c.closing) continue;
      if (c.unanswered >= MISSED_PINGS) {
        c.closing = "heartbeat";
        metrics.disconnects.inc({ reason: "heartbeat" });
        c.clear();
        unregister(c);
        clients.delete(c);
        log.info({ client: c.id, who: principalName(c.principal), remote: c.remote }, "live client answered no ping; dropped");
        c.ws.terminate();
        continue;
      }
      c.unanswered++;
      c.ws.ping();
    }
  }, cfg.livePingMs);
  pingTimer.unref();

  const heartbeatTimer = setInterval(() => {
    for (const set of bySite.values()) {
      if (set.size === 0) continue;
      const m = heartbeatOf();
      for (const c of set) c.offer(m);
    }
  }, cfg.liveHeartbeatMs);
  heartbeatTimer.unref();

  const slowTimer = setInterval(() => {
    const now = Date.now();
    for (const c of clients) {
      if (c.closing) continue;
      if (c.ws.bufferedAmount >= cfg.liveMaxBufferBytes) {
        c.overSince ??= now;
        if (now - c.overSince >= cfg.liveSlowMs) {
          closeClient(c, LiveClose.tooSlow,
            `too slow: more than ${cfg.liveMaxBufferBytes} bytes stayed unsent for ${cfg.liveSlowMs} ms`, "too_slow");
        }
      } else {
        c.overSince = undefined;
        c.drain();
      }
    }
  }, Math.max(50, Math.min(1000, Math.floor(cfg.liveSlowMs / 4))));
  slowTimer.unref();

  // ---- revoked keys end their sockets ----
  const stopRevocations = deps.readers.store.onRevoked((id) => {
    for (const c of clients) {
      if (c.principal.kind === "key" && c.principal.key.id === id) closeClient(c, LiveClose.revoked, "the key was revoked", "revoked");
    }
  });

  // ---- the gateway ----
  function handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    let pathname: string;
    try { pathname = new URL(req.url ?? "/", "http://x").pathname; } catch { pathname = ""; }
    if (pathname !== LIVE_PATH || closing) {
      const status = closing ? "503 Service Unavailable" : "404 Not Found";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  }

  let stopped: Promise<void> | undefined;
  return {
    attach(server) {
      server.on("upgrade", handleUpgrade);
    },
    handleUpgrade,
    health() {
      const ok = feed.alive();
      return { ok, feed: ok ? "following" : feed.caughtUp ? "stalled" : "starting", position: feed.position, clients: clients.size };
    },
    close() {
      stopped ??= (async () => {
        closing = true;
        clearInterval(deviceTimer);
        clearInterval(pingTimer);
        clearInterval(heartbeatTimer);
        clearInterval(slowTimer);
        stopRevocations();
        for (const r of replays) r.stop();
        const open = [...clients];
        const closed = Promise.all(open.map((c) => new Promise<void>((r) => {
          if (c.ws.readyState === c.ws.CLOSED) return r();
          c.ws.once("close", () => r());
        })));
        for (const c of open) closeClient(c, LiveClose.goingAway, "server shutting down", "shutdown");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); })]);
        clearTimeout(timer);
        for (const c of clients) c.ws.terminate();
        wss.close();
        await feed.stop();
        log.info({ clients: open.length }, "live feed stopped");
      })();
      return stopped;
    },
  };
}

/** Whether a browser's Origin names the host the upgrade was sent to (directly, or as a proxy forwarded it). */
function sameOrigin(origin: string, req: http.IncomingMessage): boolean {
  let host: string;
  try { host = new URL(origin).host; } catch { return false; }
  const forwarded = req.headers["x-forwarded-host"];
  const hosts = [req.headers.host, ...(typeof forwarded === "string" ? forwarded.split(",").map((h) => h.trim()) : [])];
  return hosts.some((h) => h !== undefined && h.toLowerCase() === host.toLowerCase());
}
