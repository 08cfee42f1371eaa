import path from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { sleep } from "../../infra/backoff.ts";
import { connectNats } from "../../infra/nats.ts";
import { startNatsCluster, type NatsCluster } from "../../infra/services/nats-server.ts";
import { createLab, type Lab } from "../support/netns.ts";
import { retry } from "../support/retry.ts";
import { startTestServices, type TestServices } from "../support/services.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * A replicated stream whose leader holds the id of a message it proposed and lost, made with real
 * nats-servers in three network namespaces (needs root):
 *
 *   1. node-1 is made the stream's leader, then cut off from the others;
 *   2. a client inside node-1 publishes `subject` with Nats-Msg-Id `msgId`: node-1 proposes it,
 *      cannot commit it, and the client's request times out;
 *   3. node-2 and node-3 elect a leader and store a few other messages, so their log moves past
 *      node-1's proposal, which is thrown away when node-1 rejoins;
 *   4. node-1 rejoins, catches up and is made leader again, inside the duplicate window.
 *
 * The same message published again now meets the leader's record of the lost proposal.
 */
export interface LostProposal {
  stream: string;
  subject: string;
  msgId: string;
  /** what the client inside the cut-off leader got (JSON: JetStream's answer or {"error"}) */
  inside: string;
  /** a connection to the cluster from outside the namespaces */
  nc: NatsConnection;
  jsm: JetStreamManager;
  stop(): Promise<void>;
}

export async function makeLostProposal(o: { stream?: string; subject?: string; msgId?: string } = {}): Promise<LostProposal> {
  const stream = o.stream ?? "LOST_PROPOSAL", subject = o.subject ?? "lost.a", msgId = o.msgId ?? "lost-1";
  let lab: Lab | undefined;
  let services: TestServices | undefined;
  let cluster: NatsCluster | undefined;
  let nc: NatsConnection | undefined;
  const stop = async () => {
    await nc?.close().catch(() => {});
    await cluster?.stop().catch(() => {});
    await lab?.destroy().catch(() => {});
    await services?.stop().catch(() => {});
  };
  try {
    lab = await createLab({ nodes: 3 });
    services = await startTestServices({ nats: false, influx: false });
    const inLab = lab;
    cluster = await startNatsCluster({
      nodes: 3, dataDir: services.dataDir, ports: [4222, 4222, 4222], clusterPorts: [6222, 6222, 6222],
      hosts: lab.nodes.map((n) => n.ip), execPrefix: (i) => inLab.nodes[i]!.prefix,
    });
    nc = await connectNats(cluster.url, "lost-proposal");
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    await retry(() => jsm.streams.add({ name: stream, subjects: [`${subject.split(".")[0]}.>`], num_replicas: 3, duplicate_window: 120_000_000_000 }));
    const [n1, n2, n3] = cluster.nodes;
    const leaderOf = async () => (await retry(() => jsm.streams.info(stream))).cluster?.leader;
    const makeLeader = async (name: string) => {
      for (let i = 0; i < 30; i++) {
        if ((await leaderOf()) === name) return;
        await nc!.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5000 }).catch(() => undefined);
        await sleep(2000);
      }
      throw new Error(`${name} did not become the leader of ${stream}`);
    };
    await makeLeader(n1!.serverName);

    await lab.nodes[0]!.isolate();
    const inside = await publishInside(lab, n1!.url, subject, msgId);

    for (let i = 0; i < 60; i++) {
      const leader = await leaderOf().catch(() => undefined);
      if (leader === n2!.serverName || leader === n3!.serverName) break;
      await sleep(500);
    }
    for (let i = 0; i < 5; i++) await retry(() => nc!.request(`${subject}.other`, `other-${i}`, { timeout: 5000 }));

    await lab.nodes[0]!.heal();
    for (let i = 0; i < 60; i++) {
      const replicas = (await retry(() => jsm.streams.info(stream))).cluster?.replicas ?? [];
      if (replicas.length === 2 && replicas.every((r) => r.current)) break;
      await sleep(500);
    }
    await makeLeader(n1!.serverName);
    // the stream takes publishes again (interest in its subjects can lag its new leadership)
    await retry(async () => {
      const answer = JSON.parse((await nc!.request(`${subject}.ready`, "ready", { timeout: 5000 })).string()) as { seq?: number };
      if (!(answer.seq! > 0)) throw new Error(`not stored: ${JSON.stringify(answer)}`);
    });
    if ((await leaderOf()) !== n1!.serverName) throw new Error(`${n1!.serverName} lost the leadership of ${stream} again`);
    return { stream, subject, msgId, inside, nc, jsm, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A client inside node-1's namespace publishes one message with an id; what it got (JSON). */
function publishInside(lab: Lab, url: string, subject: string, msgId: string): Promise<string> {
  const script = `
    import { connect } from "@nats-io/transport-node";
    import { headers } from "@nats-io/nats-core";
    const u = new URL(process.argv[1]);
    const nc = await connect({ servers: u.host, user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) });
    const h = headers(); h.set("Nats-Msg-Id", process.argv[3]);
    try { console.log((await nc.request(process.argv[2], "lost", { headers: h, timeout: 3000 })).string()); }
    catch (e) { console.log(JSON.stringify({ error: e.message })); }
    await nc.close();`;
  return new Promise((resolve, reject) => {
    const child = lab.nodes[0]!.spawn(process.execPath, ["--input-type=module", "-e", script, url, subject, msgId], { cwd: ROOT });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => { out += d.toString(); });
    child.on("error", reject);
    child.on("exit", () => resolve(out.trim()));
  });
}
