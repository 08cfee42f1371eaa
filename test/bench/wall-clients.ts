/**
 * Live-feed clients for test/bench/wall.ts, run as a child process of it (so that reading
 * hundreds of sockets does not hold up the bench process's publishing and measuring). Driven
 * over the IPC channel with the messages below.
 *
 * Each client subscribes to the site and counts the updates it receives. "Stalled" clients stop
 * reading once their snapshot arrived: their socket is paused, so nothing more is read from the
 * kernel, TCP's window closes and the gateway's unsent bytes for them grow (they answer no pings
 * either).
 */
import net from "node:net";
import WebSocket from "ws";
import { LIVE_PATH, LIVE_PROTOCOL_VERSION, type Subscribe } from "../../contracts/live-protocol.ts";

export type ToClients =
  /** `timed`: that many healthy clients also note when each occupancy.changed arrived */
  | { op: "start"; port: number; key: string; site: string; clients: number; stalled: number; timed: number }
  /** report once every healthy client received the update with seq `untilSeq` (or after `maxWaitMs`) */
  | { op: "report"; untilSeq: number; maxWaitMs: number }
  /** resume the stalled clients' sockets, wait `waitMs` for what they then read, report them */
  | { op: "unstall"; waitMs: number };

export interface ClientCounts {
  /** updates received, per client */
  updates: number[];
  /** highest update seq received, per client (0: none) */
  lastSeq: number[];
  /** bytes of every message received (snapshot included), per client */
  bytes: number[];
  /** close codes seen ("open": not closed), counted */
  closes: Record<string, number>;
}

export type FromClients =
  | { op: "ready"; subscribed: number; failed: number; ms: number; errors: string[] }
  | { op: "report"; healthy: ClientCounts; stalled: ClientCounts; resumesRefused: number; waitedMs: number;
      /** per timed client: [space, event time `at`, received (epoch ms)] of each occupancy.changed */
      arrivals: Array<Array<[string, number, number]>> }
  | { op: "unstalled"; stalled: ClientCounts };

interface Client {
  ws: WebSocket;
  socket: net.Socket | undefined;
  stalled: boolean;
  snapshot: boolean;
  updates: number;
  lastSeq: number;
  bytes: number;
  closed: number | undefined;
  /** set on timed clients */
  arrivals: Array<[string, number, number]> | undefined;
}

const send = (m: FromClients) => process.send!(m);
const clients: Client[] = [];
let resumesRefused = 0;

/** The gateway writes updates as `{"v":1,"t":"update","seq":N,...`: read the seq without parsing the whole event. */
const UPDATE_PREFIX = `{"v":${LIVE_PROTOCOL_VERSION},"t":"update","seq":`;

function onMessage(c: Client, data: WebSocket.RawData): void {
  const text = data.toString();
  c.bytes += text.length;
  if (text.startsWith(UPDATE_PREFIX)) {
    c.updates++;
    c.lastSeq = Number.parseInt(text.slice(UPDATE_PREFIX.length, UPDATE_PREFIX.length + 20), 10);
    if (c.arrivals) {
      const e = (JSON.parse(text) as { event: { type: string; space?: string; at?: number } }).event;
      if (e.type === "occupancy.changed") c.arrivals.push([e.space!, e.at!, Date.now()]);
    }
    return;
  }
  const m = JSON.parse(text) as { t: string; seq?: number };
  if (m.t === "update") { c.updates++; c.lastSeq = m.seq ?? c.lastSeq; }
  if (m.t === "snapshot" && !c.snapshot) {
    c.snapshot = true;
    if (c.stalled && c.socket) stall(c.socket);
  }
}

/**
 * Stops reading: the socket is paused, and stays paused until unstalled (ws resumes a socket it
 * paused itself once its parser drains; that resume is refused and counted).
 */
function stall(socket: net.Socket): void {
  socket.pause();
  socket.resume = function (this: net.Socket) { resumesRefused++; return this; };
}

function unstall(socket: net.Socket): void {
  // the prototype's resume again
  delete (socket as Partial<Pick<net.Socket, "resume">>).resume;
  socket.resume();
}

function connectOne(o: Extract<ToClients, { op: "start" }>, stalled: boolean, timed: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c: Client = {
      ws: undefined as unknown as WebSocket, socket: undefined, stalled, snapshot: false, updates: 0, lastSeq: 0, bytes: 0, closed: undefined,
      arrivals: timed ? [] : undefined,
    };
    c.ws = new WebSocket(`ws://127.0.0.1:${o.port}${LIVE_PATH}`, {
      headers: { authorization: `Bearer ${o.key}` },
      perMessageDeflate: false,
      createConnection: ((opts: net.NetConnectOpts) => (c.socket = net.createConnection(opts))) as typeof net.createConnection,
    });
    const timer = setTimeout(() => reject(new Error("no snapshot within 60 s")), 60_000);
    c.ws.on("open", () => {
      const sub: Subscribe = { v: LIVE_PROTOCOL_VERSION, op: "subscribe", site: o.site };
      c.ws.send(JSON.stringify(sub));
    });
    c.ws.on("message", (data) => {
      onMessage(c, data);
      if (c.snapshot) { clearTimeout(timer); resolve(c); }
    });
    c.ws.on("error", (err) => { clearTimeout(timer); reject(err); });
    c.ws.on("close", (code) => {
      c.closed = code;
      clearTimeout(timer);
      if (!c.snapshot) reject(new Error(`closed ${code} before its snapshot`));
    });
  });
}

function counts(which: Client[]): ClientCounts {
  const closes: Record<string, number> = {};
  for (const c of which) {
    const k = c.closed === undefined ? "open" : String(c.closed);
    closes[k] = (closes[k] ?? 0) + 1;
  }
  return { updates: which.map((c) => c.updates), lastSeq: which.map((c) => c.lastSeq), bytes: which.map((c) => c.bytes), closes };
}

process.on("message", (m: ToClients) => {
  void (async () => {
    if (m.op === "start") {
      const t0 = Date.now();
      const errors: string[] = [];
      let failed = 0;
      // a few at a time: the gateway answers each subscribe with a snapshot
      const AT_ONCE = 25;
      for (let i = 0; i < m.clients; i += AT_ONCE) {
        const batch = await Promise.allSettled(Array.from({ length: Math.min(AT_ONCE, m.clients - i) }, (_, j) => {
          const k = i + j;
          // the first `stalled` clients stall, the next `timed` ones note arrival times
          return connectOne(m, k < m.stalled, k >= m.stalled && k < m.stalled + m.timed);
        }));
        for (const r of batch) {
          if (r.status === "fulfilled") clients.push(r.value);
          else { failed++; if (errors.length < 5) errors.push(String(r.reason)); }
        }
      }
      send({ op: "ready", subscribed: clients.length, failed, ms: Date.now() - t0, errors });
    } else if (m.op === "report") {
      const healthy = clients.filter((c) => !c.stalled);
      const t0 = Date.now();
      while (Date.now() - t0 < m.maxWaitMs && healthy.some((c) => c.closed === undefined && c.lastSeq < m.untilSeq)) await new Promise((r) => setTimeout(r, 200));
      send({ op: "report", healthy: counts(healthy), stalled: counts(clients.filter((c) => c.stalled)), resumesRefused, waitedMs: Date.now() - t0,
        arrivals: healthy.flatMap((c) => (c.arrivals ? [c.arrivals] : [])) });
    } else if (m.op === "unstall") {
      const stalled = clients.filter((c) => c.stalled);
      for (const c of stalled) if (c.socket) unstall(c.socket);
      const until = Date.now() + m.waitMs;
      while (Date.now() < until && stalled.some((c) => c.closed === undefined)) await new Promise((r) => setTimeout(r, 200));
      send({ op: "unstalled", stalled: counts(stalled) });
    }
  })().catch((err: unknown) => {
    console.error("wall clients:", err);
    process.exit(1);
  });
});

process.on("disconnect", () => {
  for (const c of clients) c.ws.terminate();
  process.exit(0);
});
