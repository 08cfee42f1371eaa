import WebSocket, { type ClientOptions } from "ws";
import { LIVE_PATH, LIVE_PROTOCOL_VERSION, ServerMessage, type Subscribe } from "../../contracts/live-protocol.ts";

/**
 * A real `ws` client of the live feed over TCP, for tests: every server message is checked
 * against the protocol's schema and kept in order; `next` waits for the next one that matches.
 */
export class LiveTestClient {
  readonly messages: ServerMessage[] = [];
  /** schema failures of server messages (a test expects none) */
  readonly malformed: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private cursor = 0;
  private wake: (() => void) | undefined;
  private closeInfo: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake?.();
      });
    });
    ws.on("message", (data) => {
      const text = data.toString();
      const parsed = ServerMessage.safeParse(JSON.parse(text));
      if (parsed.success) this.messages.push(parsed.data);
      else this.malformed.push(text.slice(0, 300));
      this.wake?.();
    });
    ws.on("error", () => {});
  }

  static open(baseUrl: string, headers: Record<string, string> = {}, opts: ClientOptions = {}): Promise<LiveTestClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${LIVE_PATH}`, { ...opts, headers });
    const c = new LiveTestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(c));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  static bearer(key: string): Record<string, string> {
    return { authorization: `Bearer ${key}` };
  }

  subscribe(site: string, extra: Partial<Omit<Subscribe, "v" | "op" | "site">> = {}): void {
    this.ws.send(JSON.stringify({ v: LIVE_PROTOCOL_VERSION, op: "subscribe", site, ...extra }));
  }

  /** The next message (after those `next` already returned) that matches; throws after timeoutMs or when the socket closed first. */
  async next<T extends ServerMessage>(what: string, match: (m: ServerMessage) => m is T, timeoutMs?: number): Promise<T>;
  async next(what: string, match: (m: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
  async next(what: string, match: (m: ServerMessage) => boolean, timeoutMs = 60_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++]!;
        if (match(m)) return m;
      }
      if (this.closeInfo) throw new Error(`closed (${this.closeInfo.code} ${this.closeInfo.reason}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => { clearTimeout(t); r(); };
      });
      this.wake = undefined;
    }
  }

  /** Highest Update seq received so far (0: none). */
  lastSeq(): number {
    let s = 0;
    for (const m of this.messages) if ((m.t === "update" || m.t === "snapshot") && m.seq > s) s = m.seq;
    return s;
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }
}

export const isSnapshot = (m: ServerMessage): m is Extract<ServerMessage, { t: "snapshot" }> => m.t === "snapshot";
export const isResumed = (m: ServerMessage): m is Extract<ServerMessage, { t: "resumed" }> => m.t === "resumed";
export const isUpdate = (m: ServerMessage): m is Extract<ServerMessage, { t: "update" }> => m.t === "update";
export const isRefusal = (m: ServerMessage): m is Extract<ServerMessage, { t: "refused" }> => m.t === "refused";
export const isDevice = (m: ServerMessage): m is Extract<ServerMessage, { t: "device" }> => m.t === "device";
export const isHeartbeat = (m: ServerMessage): m is Extract<ServerMessage, { t: "heartbeat" }> => m.t === "heartbeat";
