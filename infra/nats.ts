import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./log.ts";
import { splitCredentials } from "./service-secrets.ts";

/**
 * The servers and credentials of a NATS URL: one URL or a comma-separated list (a cluster's seed
 * servers), each possibly with user:password@ (nats.js does not read credentials from a URL).
 */
export function natsServersOf(urls: string): { servers: string[]; user?: string; pass?: string } {
  let creds: { user: string; password: string } | undefined;
  const servers = urls.split(",").map((u) => u.trim()).filter((u) => u.length > 0).map((u) => {
    const split = splitCredentials(u);
    creds ??= split.credentials;
    return split.url;
  });
  return { servers, ...(creds ? { user: creds.user, pass: creds.password } : {}) };
}

/**
 * Connects to NATS and keeps reconnecting for ever (a restarted nats-server is picked up again).
 * `url` may list several servers (comma-separated): the client connects to any live one and,
 * when it goes away, reconnects to another (the cluster's other members are learnt from it too).
 * Credentials travel in the URL (user:password@host), see natsServersOf.
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
    ...natsServersOf(url),
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
