import net from "node:net";

/**
 * A TCP proxy in front of a server, for tests of what a client sees when the network goes
 * silent without closing (a half-open connection, a stuck proxy): silence() keeps every
 * connection open but forwards nothing either way (new connections too); restore() ends the
 * connections that lost bytes and forwards again.
 */
export interface TcpProxy {
  port: number;
  silence(): void;
  restore(): void;
  close(): Promise<void>;
}

/** `listen` puts the proxy on another address than the target's (e.g. a fault lab's network), port 0 = any. */
export async function startTcpProxy(targetPort: number, host = "127.0.0.1", listen: { host?: string; port?: number } = {}): Promise<TcpProxy> {
  let silent = false;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; muted: boolean }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host);
    const pair = { client, upstream, muted: silent };
    pairs.add(pair);
    client.on("data", (d) => { if (!silent && !pair.muted) upstream.write(d); else pair.muted = true; });
    upstream.on("data", (d) => { if (!silent && !pair.muted) client.write(d); else pair.muted = true; });
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((r) => server.listen(listen.port ?? 0, listen.host ?? host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() { silent = true; },
    restore() {
      silent = false;
      for (const p of [...pairs]) if (p.muted) { p.client.destroy(); p.upstream.destroy(); pairs.delete(p); }
    },
    async close() {
      for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
