import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";

/**
 * Adds an ephemeral consumer to `stream` and makes sure it lives on the stream's leader: the
 * server places a one-replica consumer on any replica, and a consumer reads its own replica's
 * copy of the stream, which in nats-server 2.9 can disagree with the leader's
 * (actors/runtime/partition-feed.ts). A consumer that landed elsewhere is deleted and made again,
 * at most `attempts` times; the last one is kept wherever it is (`onLeader` false). A stream of
 * one replica has one copy: its first consumer is kept (nats-server 2.10 names the stream's leader
 * even without a cluster, but not the consumer's).
 */
export async function consumerOnLeader(
  jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>, attempts = 8,
): Promise<{ info: ConsumerInfo; leader: string; onLeader: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const si = await jsm.streams.info(stream);
    const leader = si.cluster?.leader ?? "";
    const info = await jsm.consumers.add(stream, config);
    const onLeader = leader === "" || si.config.num_replicas <= 1 || (info.cluster?.leader ?? "") === leader;
    if (onLeader || attempt >= attempts) return { info, leader, onLeader };
    await jsm.consumers.delete(stream, info.name).catch(() => {});
  }
}
