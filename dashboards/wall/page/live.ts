import { LIVE_PATH, LIVE_PROTOCOL_VERSION, LiveClose, ServerMessage, type Subscribe } from "../../../contracts/live-protocol.ts";
import { Backoff } from "./backoff.ts";

/**
 * The live feed (contracts/live-protocol.ts): one websocket to /api/v1/live on the page's origin
 * (the browser sends the HttpOnly `ff_key` cookie with the upgrade). Subscribes to the site,
 * remembers the newest seq seen and, after any disconnect, reconnects with backoff and
 * `since` = that seq, so the gateway replays what was missed (or sends a fresh snapshot).
 *
 * Liveness: the gateway sends a Heartbeat every `every` ms to a subscribed socket (a page cannot
 * see websocket pings). A socket that has delivered nothing for SILENT_HEARTBEATS intervals is
 * taken for dead (a half-open connection, a stuck proxy): it is closed and replaced at once.
 */
export type LiveState =
  /** first attempt under way */
  | "connecting"
  /** a snapshot or resume arrived: the feed is current */
  | "live"
  /** the socket dropped: waiting to try again */
  | "reconnecting"
  /** the gateway refused the key (401/403/revoked): trying again rarely */
  | "refused";

export interface LiveStatus {
  state: LiveState;
  /** when the next attempt starts (epoch ms), while reconnecting or refused */
  retryAt: number | null;
  /** the last close's code and reason */
  closeCode: number | null;
  reason: string | null;
  /** consecutive failed attempts */
  attempts: number;
}

/** Heartbeat intervals without any message after which a socket is taken for dead. */
export const SILENT_HEARTBEATS = 3;
/** The heartbeat interval assumed until the gateway names its own (the default of FOOTFALL_LIVE_HEARTBEAT_MS). */
export const DEFAULT_HEARTBEAT_MS = 5000;

export interface LiveOptions {
  site: string;
  url?: string;
  onMessage(msg: ServerMessage): void;
  onStatus(s: LiveStatus): void;
  backoff?: Backoff;
  /** delay before trying again after a refusal (ms) */
  refusedRetryMs?: number;
  WebSocketImpl?: typeof WebSocket;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** closes that another attempt soon would not change: no key, another site's key, revoked, 4404 no such site */
const REFUSED = new Set<number>([LiveClose.unauthorized, LiveClose.forbidden, LiveClose.revoked, 4404]);

export function liveUrl(loc: Pick<Location, "protocol" | "host">): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}${LIVE_PATH}`;
}

export class LiveClient {
  private ws: WebSocket | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private seq: number | undefined;
  private readonly backoff: Backoff;
  private status: LiveStatus = { state: "connecting", retryAt: null, closeCode: null, reason: null, attempts: 0 };
  /** messages that did not parse (a newer gateway speaking a version this page does not know) */
  invalid = 0;
  /** when the open socket last delivered a message (epoch ms) */
  private heardAt = 0;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly o: LiveOptions) {
    this.backoff = o.backoff ?? new Backoff();
  }

  get lastSeq(): number | undefined {
    return this.seq;
  }

  get current(): LiveStatus {
    return this.status;
  }

  /** How long the feed may stay silent before its data counts as stale and its socket as dead (ms). */
  get silenceBoundMs(): number {
    return SILENT_HEARTBEATS * this.heartbeatMs;
  }

  start(): void {
    this.stopped = false;
    this.connect();
    this.watchdog ??= setInterval(() => this.checkSilence(), 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.ws?.close(1000, "page closed");
  }

  /** A subscribed socket silent past the bound is dropped (its close event may take minutes on a dead connection) and replaced. */
  private checkSilence(): void {
    const ws = this.ws;
    if (!ws || this.stopped || this.status.state !== "live") return;
    if (Date.now() - this.heardAt <= this.silenceBoundMs) return;
    this.ws = undefined;
    try { ws.close(4000, "silent"); } catch { /* already closing */ }
    this.scheduleRetry(null, `no message for ${Math.round(this.silenceBoundMs / 1000)} s`);
  }

  private setStatus(s: Partial<LiveStatus>): void {
    this.status = { ...this.status, ...s };
    this.o.onStatus(this.status);
  }

  private connect(): void {
    if (this.stopped) return;
    const Impl = this.o.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.o.url ?? liveUrl(location));
    } catch (e) {
      this.scheduleRetry(null, e instanceof Error ? e.message : String(e));
      return;
    }
    this.ws = ws;
    let refusal: string | null = null;
    // a handshake that hangs (a proxy holding the upgrade) counts as a failed attempt
    const handshake = setTimeout(() => { if (ws.readyState === ws.CONNECTING) ws.close(); }, CONNECT_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      clearTimeout(handshake);
      const sub: Subscribe = { v: LIVE_PROTOCOL_VERSION, op: "subscribe", site: this.o.site, ...(this.seq === undefined ? {} : { since: this.seq }) };
      ws.send(JSON.stringify(sub));
    });
    ws.addEventListener("message", (ev) => {
      if (this.ws !== ws || typeof ev.data !== "string") return;
      this.heardAt = Date.now();
      let raw: unknown;
      try { raw = JSON.parse(ev.data); } catch { this.invalid++; return; }
      const r = ServerMessage.safeParse(raw);
      if (!r.success) { this.invalid++; return; }
      const msg = r.data;
      switch (msg.t) {
        case "snapshot":
          this.seq = msg.seq;
          this.backoff.reset();
          this.setStatus({ state: "live", retryAt: null, attempts: 0, reason: null });
          break;
        case "resumed":
          this.backoff.reset();
          this.setStatus({ state: "live", retryAt: null, attempts: 0, reason: null });
          break;
        case "update":
          // a replay may overlap what was already seen
          if (this.seq !== undefined && msg.seq <= this.seq) return;
          this.seq = msg.seq;
          break;
        case "heartbeat":
          this.heartbeatMs = msg.every;
          break;
        case "refused":
          refusal = msg.reason;
          break;
        case "device":
          break;
      }
      this.o.onMessage(msg);
    });
    ws.addEventListener("close", (ev) => {
      clearTimeout(handshake);
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return;
      this.scheduleRetry(ev.code, refusal ?? (ev.reason || null));
    });
    // an error is always followed by close
  }

  private scheduleRetry(code: number | null, reason: string | null): void {
    const refused = code !== null && REFUSED.has(code);
    const delay = refused ? (this.o.refusedRetryMs ?? 60_000) : code === LiveClose.tooSlow && this.status.state === "live" ? 250 : this.backoff.next();
    this.setStatus({
      state: refused ? "refused" : "reconnecting",
      retryAt: Date.now() + delay,
      closeCode: code,
      reason,
      attempts: this.status.attempts + 1,
    });
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
