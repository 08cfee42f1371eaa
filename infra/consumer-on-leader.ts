import type { ConsumerConfig, ConsumerInfo, JetStreamManager, StreamInfo } from "@nats-io/jetstream";

/**
 * The leader of a replicated stream ("" for a stream of one replica, which has one copy:
 * nats-server 2.10 names a leader even without a cluster, but not its consumers').
 */
export const replicatedLeader = (si: StreamInfo): string => (si.config.num_replicas > 1 ? si.cluster?.leader ?? "" : "");

/**
 * Adds an ephemeral consumer to `stream` and makes sure it lives on the stream's leader: the
 * server places a one-replica consumer on any replica, and a consumer reads its own replica's
 * copy of the stream, which in nats-server 2.9 can disagree with the leader's
 * (actors/runtime/partition-feed.ts). A consumer that landed elsewhere is deleted and made again,
 * at most `attempts` times; the last one is kept wherever it is (`onLeader` false). On a stream of
 * one replica the first one is kept.
 */
export async function consumerOnLeader(
  jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>, attempts = 8,
): Promise<{ info: ConsumerInfo; leader: string; onLeader: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const leader = replicatedLeader(await jsm.streams.info(stream));
    const info = await jsm.consumers.add(stream, config);
    const onLeader = leader === "" || (info.cluster?.leader ?? "") === leader;
    if (onLeader || attempt >= attempts) return { info, leader, onLeader };
    await jsm.consumers.delete(stream, info.name).catch(() => {});
  }
}
