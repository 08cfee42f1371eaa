import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg, OrderedConsumerOptions } from "@nats-io/jetstream";
import { FootfallEvent } from "../../contracts/events.ts";
import { siteOfEventSubject, STREAM_EVENTS } from "../../contracts/nats-layout.ts";

/** One FF_EVENTS message, read and checked. `raw` is its JSON text, passed on to clients as it is. */
export interface StreamEvent {
  seq: number;
  site: string;
  event: FootfallEvent;
  raw: string;
  /** when the stream stored it (epoch ms) */
  storedAt: number;
}

/** The event a message holds, or a reason it is not one (not JSON, not an event, site not its subject's). */
export function readEvent(m: JsMsg): StreamEvent | { invalid: string } {
  const raw = m.string();
  let json: unknown;
  try { json = JSON.parse(raw); } catch { return { invalid: "not JSON" }; }
  const parsed = FootfallEvent.safeParse(json);
  if (!parsed.success) return { invalid: "not an event" };
  const site = siteOfEventSubject(m.subject);
  if (site !== parsed.data.site) return { invalid: "site differs from its subject's" };
  return { seq: m.seq, site, event: parsed.data, raw, storedAt: m.time.getTime() };
}

/**
 * The messages an ordered consumer on FF_EVENTS finds now, in stream order, up to `uptoSeq`:
 * it ends at the first message past `uptoSeq`, or once nothing more is pending. `stop()` ends
 * it early. The consumer is deleted afterwards.
 */
export class StreamRead {
  private consumer: Consumer | undefined;
  private iter: ConsumerMessages | undefined;
  private stopped = false;

  constructor(private readonly js: JetStreamClient, private readonly opts: Partial<OrderedConsumerOptions>, private readonly uptoSeq = Infinity) {}

  async *messages(): AsyncGenerator<JsMsg> {
    try {
      this.consumer = await this.js.consumers.get(STREAM_EVENTS, this.opts);
      if (this.stopped || (await this.consumer.info(true)).num_pending === 0) return;
      this.iter = await this.consumer.consume({ max_messages: 256, expires: 5000 });
      if (this.stopped) return;
      for await (const m of this.iter) {
        if (m.seq > this.uptoSeq) return;
        yield m;
        if (this.stopped || m.seq >= this.uptoSeq || m.info.pending === 0) return;
      }
    } finally {
      this.iter?.stop();
      this.consumer?.delete().catch(() => {});
    }
  }

  stop(): void {
    this.stopped = true;
    this.iter?.stop();
  }
}

/** Two streams of messages in increasing seq, merged into one in increasing seq. */
export async function* mergeBySeq(a: AsyncGenerator<JsMsg>, b: AsyncGenerator<JsMsg>): AsyncGenerator<JsMsg> {
  let x = await a.next();
  let y = await b.next();
  try {
    while (!x.done || !y.done) {
      if (!x.done && (y.done || x.value.seq < y.value.seq)) {
        yield x.value;
        x = await a.next();
      } else if (!y.done) {
        yield y.value;
        y = await b.next();
      }
    }
  } finally {
    await Promise.all([a.return(undefined), b.return(undefined)]);
  }
}

/**
 * The events of one site after `afterSeq` up to `uptoSeq`, in stream order, from JetStream.
 * A site's subjects are evt.{type}.{site} and evt.{type}.{site}.{entity}: two filters, read by
 * two ordered consumers and merged (nats-server 2.9 takes one filter per consumer).
 */
export class SiteReplay {
  private readonly reads: StreamRead[];

  constructor(js: JetStreamClient, site: string, afterSeq: number, uptoSeq: number) {
    this.reads = [`evt.*.${site}`, `evt.*.${site}.>`].map((filter) =>
      new StreamRead(js, { filter_subjects: filter, opt_start_seq: afterSeq + 1 }, uptoSeq));
  }

  messages(): AsyncGenerator<JsMsg> {
    return mergeBySeq(this.reads[0]!.messages(), this.reads[1]!.messages());
  }

  stop(): void {
    for (const r of this.reads) r.stop();
  }
}
