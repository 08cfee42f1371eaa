import type { WebSocket } from "ws";
import type { Subscribe } from "../../contracts/live-protocol.ts";
import type { Principal } from "../../access/reader.ts";
import type { SiteFilter } from "./live-state.ts";
import type { DisconnectReason, GatewayMetrics } from "./gateway-metrics.ts";

/** One message for a client: `key` names the entity it is the newest state of (coalescing replaces by key). */
export interface Outgoing {
  key: string;
  /** metric label: the event type, or "device" */
  type: string;
  text: string;
  /** event time (epoch ms) of a live update, for the lag histogram; none for replayed ones */
  eventTime?: number;
}

let nextId = 1;

/** Most distinct entities one client may have waiting; more and it is too slow, whatever its buffer. */
export const MAX_WAITING = 20_000;

/**
 * One websocket of the live feed. Updates are written at once while the socket's unsent bytes
 * are below `maxBuffer` and nothing waits; otherwise they wait in a queue that holds one
 * message per entity (space count, site total, alert per space, person, camera, device): a newer
 * one replaces the unsent older one and goes to the back, so the queue stays in stream order.
 * The queue drains as the socket's writes complete. While a resume replays from JetStream, live
 * updates are held (coalesced the same way) and released after the replay.
 */
export class LiveClient {
  readonly id = nextId++;
  /** the current subscription (set while its snapshot or replay is prepared too) */
  sub: { site: string; filter: SiteFilter } | undefined;
  /** a Subscribe that arrived while the previous one was being answered (the newest wins) */
  next: Subscribe | undefined;
  answering = false;
  /** set once the socket is being closed by us, with the reason */
  closing: DisconnectReason | undefined;
  /** pings sent since the last pong */
  unanswered = 0;
  /** since when the unsent bytes are above the bound */
  overSince: number | undefined;
  private holding: Map<string, Outgoing> | undefined;
  private readonly queue = new Map<string, Outgoing>();
  private readonly afterWrite = (err?: Error) => { if (!err) this.drain(); };

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    readonly remote: string,
    private readonly maxBuffer: number,
    private readonly metrics: GatewayMetrics,
    /** called once when more than MAX_WAITING updates wait */
    private readonly overflow: () => void,
  ) {}

  /** A live update (held during a replay). */
  offer(m: Outgoing): void {
    if (this.closing) return;
    if (this.holding) this.put(this.holding, m);
    else this.push(m);
  }

  /** An update in stream order after everything offered before it. */
  push(m: Outgoing): void {
    if (this.closing) return;
    if (this.queue.size === 0 && this.ws.bufferedAmount < this.maxBuffer) this.write(m);
    else this.put(this.queue, m);
  }

  /** Messages that are not updates (snapshot, resumed, refusal): written at once. */
  control(text: string, type: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(text, this.afterWrite);
    this.metrics.sent.inc({ type });
  }

  hold(): void {
    this.holding = new Map();
  }

  /** Ends a replay: the updates held meanwhile follow it. */
  release(): void {
    const held = this.holding;
    this.holding = undefined;
    for (const m of held?.values() ?? []) this.push(m);
  }

  /** Forgets every unsent update (a new subscription, or the socket is closing); counted as dropped. */
  clear(): void {
    for (const m of this.queue.values()) this.metrics.dropped.inc({ type: m.type });
    for (const m of this.holding?.values() ?? []) this.metrics.dropped.inc({ type: m.type });
    this.queue.clear();
    this.holding = undefined;
  }

  get pending(): number {
    return this.queue.size + (this.holding?.size ?? 0);
  }

  /** Writes waiting updates while the socket takes them. */
  drain(): void {
    while (this.queue.size > 0 && !this.closing && this.ws.readyState === this.ws.OPEN && this.ws.bufferedAmount < this.maxBuffer) {
      const [key, m] = this.queue.entries().next().value!;
      this.queue.delete(key);
      this.write(m);
    }
  }

  private put(into: Map<string, Outgoing>, m: Outgoing): void {
    if (into.delete(m.key)) this.metrics.coalesced.inc({ type: m.type });
    into.set(m.key, m);
    if (into.size > MAX_WAITING) this.overflow();
  }

  private write(m: Outgoing): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(m.text, this.afterWrite);
    this.metrics.sent.inc({ type: m.type });
    if (m.eventTime !== undefined) this.metrics.lag.observe({ type: m.type }, Math.max(0, Date.now() - m.eventTime) / 1000);
  }
}
