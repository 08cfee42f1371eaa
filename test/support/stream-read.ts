import { jetstream, type JsMsg, type StreamState } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Every message of `stream` on `subject` (a filter) as stored now, from the first, in stream order. */
export async function readSubject(nc: NatsConnection, stream: string, subject: string): Promise<JsMsg[]> {
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject });
  const out: JsMsg[] = [];
  for (;;) {
    let n = 0;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
      out.push(m);
      n++;
      if (m.info.pending === 0) break;
    }
    if (n === 0 || (await consumer.info(true)).num_pending === 0) break;
  }
  return out;
}

/** A stream's state in a line: messages, sequence range, deleted (skipped) sequences. */
export const describeStreamState = (st: StreamState) =>
  `${st.messages} messages, seq ${st.first_seq}..${st.last_seq}, ${st.num_deleted ?? 0} deleted`;
