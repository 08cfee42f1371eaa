import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./log.ts";

/** Connects to NATS and keeps reconnecting for ever (a restarted nats-server is picked up again). */
export async function connectNats(url: string, name: string, log?: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5000,
  });
  if (log) {
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") log.warn({ nats: s.type }, "nats status");
      }
    })().catch(() => {});
  }
  return nc;
}
