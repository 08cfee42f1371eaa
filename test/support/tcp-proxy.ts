import net from "node:net";

/**
 * A TCP proxy in front of a server, for tests of what a client sees when the network goes
 * silent without closing (a half-open connection, a stuck proxy): silence() keeps every
 * connection open but forwards nothing either way (new connections too); restore() ends the
 * connections that lost bytes and forwards again. hold() is a network partition as TCP lives
 * through it: nothing is forwarded meanwhile, and release() delivers the bytes late (as TCP
 * retransmits them once the network heals). That includes a connection its client closed
 * meanwhile: a plain close keeps its unsent bytes in the kernel and sends them, then FIN. Only a
 * connection its client reset (RST) loses them: the kernel dropped its send queue.
 */
export interface TcpProxy {
  port: number;
  silence(): void;
  restore(): void;
  hold(): void;
  release(): void;
  /** bytes held so far from clients towards the server */
  heldBytes(): number;
  /** bytes held towards the server and lost because their connection was reset before release() */
  droppedBytes(): number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  muted: boolean;
  held: { toServer: Buffer[]; toClient: Buffer[] };
  /** the client closed (FIN) while bytes were held: they go to the server at release(), then FIN */
  closedWithHeld: boolean;
}

/** `listen` puts the proxy on another address than the target's (e.g. a fault lab's network), port 0 = any. */
export async function startTcpProxy(targetPort: number, host = "127.0.0.1", listen: { host?: string; port?: number } = {}): Promise<TcpProxy> {
  let silent = false;
  let holding = false;
  let dropped = 0;
  const pairs = new Set<Pair>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host);
    const pair: Pair = { client, upstream, muted: silent, held: { toServer: [], toClient: [] }, closedWithHeld: false };
    pairs.add(pair);
    let reset = false, finished = false;
    client.on("end", () => { finished = true; }).on("error", () => { reset = true; });
    const forward = (d: Buffer, to: net.Socket, held: Buffer[]) => {
      if (silent || pair.muted) pair.muted = true;
      else if (holding) held.push(d);
      else to.write(d);
    };
    client.on("data", (d: Buffer) => forward(d, upstream, pair.held.toServer));
    upstream.on("data", (d: Buffer) => forward(d, client, pair.held.toClient));
    const end = () => {
      if (pair.closedWithHeld) return;
      if (finished && !reset && holding && pair.held.toServer.length > 0 && !upstream.destroyed) {
        pair.closedWithHeld = true;
        client.destroy();
        return;
      }
      if (pairs.delete(pair)) for (const d of pair.held.toServer.splice(0)) dropped += d.length;
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", () => { pair.closedWithHeld = false; end(); }).on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(listen.port ?? 0, listen.host ?? host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() { silent = true; },
    restore() {
      silent = false;
      for (const p of [...pairs]) if (p.muted) { p.client.destroy(); p.upstream.destroy(); pairs.delete(p); }
    },
    hold() { holding = true; },
    release() {
      holding = false;
      for (const p of [...pairs]) {
        for (const d of p.held.toServer.splice(0)) p.upstream.write(d);
        if (p.closedWithHeld) {
          p.upstream.end();
          pairs.delete(p);
          continue;
        }
        for (const d of p.held.toClient.splice(0)) p.client.write(d);
      }
    },
    heldBytes() {
      let n = 0;
      for (const p of pairs) for (const d of p.held.toServer) n += d.length;
      return n;
    },
    droppedBytes() { return dropped; },
    async close() {
      for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
