import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./log.ts";

/**
 * Connects to NATS and keeps reconnecting for ever (a restarted nats-server is picked up again).
 * No Error object is created per request just to keep its call-site stack (`noAsyncTraces`):
 * profiles of the broker and the actor host showed it costing 15 % of their CPU. nats-core
 * still builds one Error for every request that succeeds: the JetStream publishes of the hot
 * paths go through infra/js-publish.ts instead, which builds none.
 * `extra` adds or overrides client options.
 */
export async function connectNats(url: string, name: string, log?: Logger, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const nc = await connect({
    noAsyncTraces: true,
    ...extra,
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
