import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";

/**
 * Adds an ephemeral consumer to `stream` and makes sure it lives on the stream's leader: the
 * server places a one-replica consumer on any replica, and a consumer reads its own replica's
 * copy of the stream, which in nats-server 2.9 can disagree with the leader's
 * (actors/runtime/partition-feed.ts). A consumer that landed elsewhere is deleted and made again,
 * at most `attempts` times; the last one is kept wherever it is (`onLeader` false). Without a
 * cluster (no leader named) the first one is kept.
 */
export async function consumerOnLeader(
  jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>, attempts = 8,
): Promise<{ info: ConsumerInfo; leader: string; onLeader: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const leader = (await jsm.streams.info(stream)).cluster?.leader ?? "";
    const info = await jsm.consumers.add(stream, config);
    const onLeader = leader === "" || (info.cluster?.leader ?? "") === leader;
    if (onLeader || attempt >= attempts) return { info, leader, onLeader };
    await jsm.consumers.delete(stream, info.name).catch(() => {});
  }
}
