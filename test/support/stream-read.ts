import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg, type StreamState } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { actorBodies } from "../../contracts/actor-batch.ts";
import { consumerOnLeader } from "../../infra/consumer-on-leader.ts";

/** Every message of `stream` on `subject` (a filter) as stored now, from the first, in stream order. */
export async function readSubject(nc: NatsConnection, stream: string, subject: string): Promise<JsMsg[]> {
  const out: JsMsg[] = [];
  await eachMessage(nc, stream, subject, (m) => { out.push(m); });
  return out;
}

/**
 * How many actor messages `stream` holds on `subject`, a batch (contracts/actor-batch.ts) counted
 * as its items: what the broker acknowledged, as the actors will see it.
 */
export async function countActorBodies(nc: NatsConnection, stream: string, subject: string): Promise<number> {
  let n = 0;
  await eachMessage(nc, stream, subject, (m) => { n += actorBodies(m.json<unknown>()).length; });
  return n;
}

/** Calls `each` with every message of `stream` on `subject` as stored now, from the first, in stream order. */
export async function eachMessage(nc: NatsConnection, stream: string, subject: string, each: (m: JsMsg) => void): Promise<void> {
  // read the stream leader's copy: in a cluster a consumer reads its own replica, and nats-server
  // 2.9 replicas can disagree (actors/runtime/partition-feed.ts)
  const jsm = await jetstreamManager(nc);
  const { info } = await consumerOnLeader(jsm, stream, {
    filter_subject: subject, deliver_policy: DeliverPolicy.All, ack_policy: AckPolicy.None,
    inactive_threshold: 60_000 * 1_000_000, mem_storage: true, num_replicas: 1,
  }, 10);
  const name = info.name;
  const consumer = await jetstream(nc).consumers.get(stream, name);
  try {
    // until the consumer has nothing pending (asked of the server, not its cached info): a fetch
    // can come back empty under load, which is no sign of the end
    for (let empty = 0; ;) {
      let n = 0;
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
        each(m);
        n++;
        if (m.info.pending === 0) break;
      }
      const pending = (await consumer.info()).num_pending;
      if (pending === 0) break;
      empty = n === 0 ? empty + 1 : 0;
      if (empty >= 15) throw new Error(`reading ${subject} from ${stream}: ${pending} messages pending, none delivered in ${empty} fetches`);
    }
  } finally {
    await jsm.consumers.delete(stream, name).catch(() => {});
  }
}

/** A stream's state in a line: messages, sequence range, deleted (skipped) sequences. */
export const describeStreamState = (st: StreamState) =>
  `${st.messages} messages, seq ${st.first_seq}..${st.last_seq}, ${st.num_deleted ?? 0} deleted`;
