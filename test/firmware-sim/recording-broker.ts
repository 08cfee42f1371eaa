import net from "node:net";
import { Aedes, type AuthenticateError } from "aedes";
import { CrossingPayload } from "../../contracts/crossing.ts";
import { freePort } from "../support/ports.ts";

/** One PUBLISH as it reached the broker. */
export interface Arrival {
  clientId: string;
  topic: string;
  /** "single" for one event, "batch" for {"events": [...]} */
  shape: "single" | "batch";
  ids: string[];
  events: Array<{ id: string; ts: number; doorway: string; delta: number }>;
}

/**
 * A bare aedes broker over real TCP for firmware tests: it authenticates user/password against
 * `credentials`, records every PUBLISH (validated with the contract's CrossingPayload), and can
 * hold PUBACKs back (authorizePublish runs before aedes acknowledges a QoS 1 publish),
 * drop every connection, or stop listening for a while.
 */
export interface RecordingBroker {
  url: string;
  port: number;
  arrivals: Arrival[];
  /** ids of every event that arrived, in arrival order (duplicates kept) */
  ids(): string[];
  refusedConnects: number;
  holdAcks(): void;
  releaseAcks(): void;
  /** stop accepting connections and drop every open one */
  goDown(): Promise<void>;
  /** listen again on the same port */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

export async function startRecordingBroker(credentials: Record<string, string>): Promise<RecordingBroker> {
  let holding = false;
  let held: Array<() => void> = [];
  const arrivals: Arrival[] = [];
  const sockets = new Set<net.Socket>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const ok = username !== undefined && credentials[username] !== undefined && password?.toString() === credentials[username];
      if (ok) return done(null, true);
      rb.refusedConnects++;
      const err = new Error("bad user name or password") as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
    authorizePublish: (client, packet, done) => {
      if (client) {
        let body: unknown;
        try { body = JSON.parse(packet.payload.toString()); } catch { body = undefined; }
        const parsed = CrossingPayload.safeParse(body);
        if (!parsed.success) return done(new Error(`not a crossing payload: ${parsed.error.issues[0]?.message}`));
        const batch = typeof body === "object" && body !== null && "events" in body;
        arrivals.push({
          clientId: client.id, topic: packet.topic, shape: batch ? "batch" : "single",
          ids: parsed.data.map((e) => e.id), events: parsed.data,
        });
      }
      if (holding) held.push(() => done(null));
      else done(null);
    },
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  const port = await freePort();
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => { server.off("error", reject); resolve(); });
  });
  await listen();

  const rb: RecordingBroker = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    arrivals,
    ids: () => arrivals.flatMap((a) => a.ids),
    refusedConnects: 0,
    holdAcks: () => { holding = true; },
    releaseAcks: () => {
      holding = false;
      const h = held;
      held = [];
      for (const f of h) f();
    },
    goDown: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    comeBack: listen,
    close: async () => {
      rb.releaseAcks();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
  return rb;
}
