import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { partitionFilter, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import { consumerOnLeader, replicatedLeader } from "../../infra/consumer-on-leader.ts";

/** Messages of the partition remembered (sequence, subject, hash of the body) for checking them against the stream leader. */
const REMEMBERED = 8192;
/** The newest of them compared at each check; the older ones only when these differ somewhere. */
const COMPARED = 512;
/** Attempts at placing a new consumer on the stream leader before taking it where it landed. */
const PLACEMENT_ATTEMPTS = 8;
/** Leader messages read at once while checking. */
const CHECK_BATCH = 32;
/** A consumer whose host is gone for this long is deleted by the server. */
const INACTIVE_NS = 30_000 * 1_000_000;

/** A message handed out, as remembered: its sequence, subject and a hash of its body. */
export interface Handled { seq: number; subject: string; hash: number }

/** FNV-1a of a message body. */
export function bodyHash(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}

const keyOf = (h: Handled) => `${h.subject} ${h.hash}`;

/** The remembered message for m. */
export const handledOf = (m: { seq: number; subject: string; data: Uint8Array }): Handled => ({ seq: m.seq, subject: m.subject, hash: bodyHash(m.data) });

/**
 * Which of the messages handed out (oldest first) differ from the leader's at the same sequence
 * (`theirs[i]` for `handed[i]`; null: the leader has none there): how many, and the oldest.
 */
export function differences(handed: readonly Handled[], theirs: ReadonlyArray<{ subject: string; data: Uint8Array } | null>): { count: number; oldest: Handled | undefined } {
  let count = 0;
  let oldest: Handled | undefined;
  handed.forEach((h, i) => {
    const t = theirs[i];
    if (t && t.subject === h.subject && bodyHash(t.data) === h.hash) return;
    count++;
    oldest ??= h;
  });
  return { count, oldest };
}

/**
 * The index of the oldest of `handed` that differs from the leader's copy (-1: none), read
 * `batch` at a time from the oldest on with `fetch` (the leader's messages at those sequences).
 * Differences need not be contiguous, so every message up to the first that differs is read.
 */
export async function oldestDifference(
  handed: readonly Handled[],
  fetch: (seqs: number[]) => Promise<ReadonlyArray<{ subject: string; data: Uint8Array } | null>>,
  batch: number,
): Promise<number> {
  for (let i = 0; i < handed.length; i += batch) {
    const part = handed.slice(i, i + batch);
    const { oldest } = differences(part, await fetch(part.map((h) => h.seq)));
    if (oldest) return i + part.indexOf(oldest);
  }
  return -1;
}

/**
 * The messages of one partition, in stream order, from a given sequence on: a pull consumer on
 * FF_ACTORS filtered by `act.{n}.>` (a single filter string, which nats-server 2.9 accepts too),
 * without acknowledgements, placed on the stream's leader. Whenever the consumer is lost (NATS
 * restarted, consumer gone, stalled) or the leader moved, a new one is made on the leader from
 * the last sequence handed out, so nothing is skipped and nothing repeated.
 *
 * Why the leader, and why checking: in a replicated FF_ACTORS, nats-server 2.9 (Debian 12's
 * package; setup installs 2.10, but a cluster of the operator's own may run 2.9) can leave a
 * replica holding different messages at some sequences than the others
 * (seen after a leader was deposed while nodes restarted: it had stored messages the new leader
 * never got; and replicas whose numbering shifted by a few messages). A consumer reads its own
 * replica's copy, so one placed on such a replica hands out the wrong messages there and never
 * the right ones. So consumers go to the leader, and before each new consumer starts, the last
 * messages handed out are compared with the leader's (subject and body at the same sequence). If
 * any differs, the feed goes back to the oldest that differs and hands out the leader's messages
 * from there again: `realignedThrough()` tells the caller how far that goes, and
 * `handedOutBefore()` which of them it had (same subject and body) and which are new to it;
 * `onDivergence` hears of each such event.
 *
 * The consumer does not wait for acknowledgements, so a message it sent into a connection that
 * died on the way (the client's nats-server killed, the consumer living on another) is lost to
 * it. Each message's delivery sequence (the consumer's own count) is therefore checked: at a gap
 * the feed starts again after the last message it handed out, and `onGap` hears of it.
 */
export class PartitionFeed {
  private consumerName: string | undefined;
  /** the server the consumer lives on ("" when not clustered) */
  private consumerOn = "";
  private iter: ConsumerMessages | undefined;
  private stopped = false;
  private cursor = 0;
  private pending = 0;
  /** performance.now() since which we wait for the next message; undefined while the caller handles one */
  private waitingSince: number | undefined;
  /** the partition takes no messages for now (back-pressure): the depth is refreshed by probes */
  private held = false;
  private suspicion = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private jsm: JetStreamManager | undefined;
  /** the last REMEMBERED messages handed out (a little more between trims), oldest first */
  private handled: Handled[] = [];
  private realigned = 0;
  /** subject and body hash of the messages handed out before a realignment, from its oldest difference on */
  private before = new Set<string>();
  private readonly probeMs: number;
  private readonly onDivergence: () => void;
  private readonly onGap: () => void;

  constructor(
    private readonly js: JetStreamClient,
    readonly partition: number,
    private readonly log: Logger,
    opts: {
      /** how often the consumer is probed (stalled, gone, not on the leader) */
      probeMs?: number;
      /** called whenever handed-out messages differed from the leader's */
      onDivergence?: () => void;
      /** called whenever messages sent by the consumer did not arrive (a gap in its delivery sequence) */
      onGap?: () => void;
    } = {},
  ) {
    this.probeMs = opts.probeMs ?? 2000;
    this.onDivergence = opts.onDivergence ?? (() => {});
    this.onGap = opts.onGap ?? (() => {});
  }

  /** Messages still waiting in the partition (as last seen). */
  depth(): number { return this.pending; }

  /**
   * The partition stops (true) or resumes (false) taking messages for a while (its InfluxDB
   * backlog is at its bound). Meanwhile no message brings the depth, so probes read it from the
   * consumer: what waits in the stream keeps showing in footfall_actor_mailbox_depth.
   */
  hold(on: boolean): void { this.held = on; }

  /** The stream sequence of the last message handed out. */
  position(): number { return this.cursor; }

  /** Messages at or below this sequence are handed out again after a realignment (0: none). */
  realignedThrough(): number { return this.realigned; }

  /**
   * For a message handed out again after a realignment: whether one with the same subject and body
   * was handed out before (already applied: skip it), or it is one the replica read before did not
   * have (apply it, whatever its sequence).
   */
  handedOutBefore(m: JsMsg): boolean {
    return m.seq <= this.realigned && this.before.has(keyOf(handledOf(m)));
  }

  async *messages(afterSeq: number): AsyncGenerator<JsMsg> {
    this.cursor = afterSeq;
    this.watchdog = setInterval(() => void this.probe(), this.probeMs);
    this.watchdog.unref();
    const filter = partitionFilter(this.partition);
    try {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          this.jsm ??= await this.js.jetstreamManager();
          await this.check();
          if (this.stopped) break;
          await this.place(filter);
          if (this.stopped) break;
          const consumer = await this.js.consumers.get(STREAM_ACTORS, this.consumerName!);
          this.iter = await consumer.consume({ max_messages: 256, expires: 5000 });
          this.waitingSince = performance.now();
          let delivered = 0;
          for await (const m of this.iter) {
            this.waitingSince = undefined;
            attempt = 0;
            this.suspicion = 0;
            // without acknowledgements the consumer counts a message as done once sent: one sent
            // into a connection that then died (its nats-server killed) never arrives, and the
            // consumer goes on after it. Its delivery sequence shows the gap: start again after
            // the last message handed out, on a new consumer, before handing out this one.
            // (A count that starts over, as seen when the consumer's own nats-server was restarted
            // under it, is taken up again after the last message handed out too.)
            if (m.info.deliverySequence !== delivered + 1) {
              const lost = m.info.deliverySequence > delivered + 1;
              if (lost) this.onGap();
              this.log.warn({ partition: this.partition, expected: delivered + 1, got: m.info.deliverySequence, position: this.cursor },
                lost ? "messages lost on their way from the partition consumer; taking them again from the last one handed out"
                  : "partition consumer's count started over; taking up again after the last message handed out");
              break;
            }
            delivered = m.info.deliverySequence;
            if (m.seq > this.cursor) {
              if (this.before.size > 0 && m.seq > this.realigned) this.before.clear();
              this.pending = m.info.pending;
              this.remember(m);
              yield m;
              this.cursor = m.seq;
            }
            if (this.stopped) break;
            this.waitingSince = performance.now();
          }
        } catch (e) {
          if (!this.stopped) this.log.warn({ partition: this.partition, err: e, attempt }, "partition consumer failed; recreating");
        } finally {
          this.waitingSince = undefined;
          this.iter?.stop();
          this.iter = undefined;
          this.dropConsumer();
        }
        if (!this.stopped) await pause(backoffMs(attempt, 2000));
      }
    } finally {
      clearInterval(this.watchdog);
      this.dropConsumer();
    }
  }

  /** Ends the stream of messages (the caller's loop then finishes). */
  stop(): void {
    this.stopped = true;
    this.iter?.stop();
  }

  private remember(m: JsMsg): void {
    this.handled.push(handledOf(m));
    if (this.handled.length > REMEMBERED + 1024) this.handled = this.handled.slice(-REMEMBERED);
  }

  private dropConsumer(): void {
    const name = this.consumerName;
    this.consumerName = undefined;
    if (name) this.jsm?.consumers.delete(STREAM_ACTORS, name).catch(() => {});
  }

  /** The stream leader's name ("" for a stream of one replica). */
  private async leader(): Promise<string> {
    return replicatedLeader(await this.jsm!.streams.info(STREAM_ACTORS));
  }

  /** A consumer from cursor + 1, on the stream leader if it can be had. */
  private async place(filter: string): Promise<void> {
    const { info, leader, onLeader } = await consumerOnLeader(this.jsm!, STREAM_ACTORS, {
      filter_subject: filter,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.cursor + 1,
      ack_policy: AckPolicy.None,
      inactive_threshold: INACTIVE_NS,
      mem_storage: true,
      num_replicas: 1,
    }, PLACEMENT_ATTEMPTS);
    this.consumerName = info.name;
    this.consumerOn = info.cluster?.leader ?? "";
    if (!onLeader) this.log.warn({ partition: this.partition, on: this.consumerOn, leader }, "partition consumer could not be placed on the stream leader");
  }

  /**
   * Compares the messages handed out with the leader's at the same sequences: the newest COMPARED
   * one by one; on a difference, every older remembered one too, from the oldest, until the first
   * that differs. Moves the cursor back to before the oldest that differs.
   */
  private async check(): Promise<void> {
    const all = this.handled;
    if (all.length === 0) return;
    const jsm = this.jsm!;
    // the leader may not have applied the newest of them yet: wait for it (a few seconds at most)
    const newest = all[all.length - 1]!.seq;
    for (let wait = 0; wait < 20 && (await jsm.streams.info(STREAM_ACTORS)).state.last_seq < newest; wait++) await pause(250);
    const fetch = (seqs: number[]) => Promise.all(seqs.map((seq) => jsm.streams.getMessage(STREAM_ACTORS, { seq })));
    const from = Math.max(0, all.length - COMPARED);
    const recent = all.slice(from);
    const theirs: Array<{ subject: string; data: Uint8Array } | null> = [];
    for (let i = 0; i < recent.length; i += CHECK_BATCH) theirs.push(...await fetch(recent.slice(i, i + CHECK_BATCH).map((h) => h.seq)));
    const { count: differing, oldest } = differences(recent, theirs);
    if (!oldest) return;
    const older = await oldestDifference(all.slice(0, from), fetch, CHECK_BATCH);
    const at = older >= 0 ? older : from + recent.indexOf(oldest);
    const oldestBad = all[at]!;
    this.onDivergence();
    this.log.error({
      partition: this.partition, differing, compared: recent.length, from: oldestBad.seq, through: this.cursor,
      ...(at === 0 && all.length >= REMEMBERED ? { note: "the difference may begin before the oldest message remembered" } : {}),
    }, "messages handed out differ from the stream leader's (replicas disagree); handing out the leader's again from the oldest that differs");
    this.realigned = Math.max(this.realigned, this.cursor);
    for (const h of all.slice(at)) this.before.add(keyOf(h));
    this.cursor = oldestBad.seq - 1;
    this.handled = all.slice(0, at);
  }

  /**
   * Every probeMs: refresh the depth, and recreate the consumer if it has gone (NATS restarted),
   * has messages for us but delivers none for two probes in a row, or is no longer on the
   * stream leader.
   */
  private async probe(): Promise<void> {
    const name = this.consumerName;
    if (this.stopped || !name || !this.iter || !this.jsm) return;
    try {
      const leader = await this.leader();
      if (name !== this.consumerName) return;
      if (leader !== "" && leader !== this.consumerOn) {
        this.log.info({ partition: this.partition, on: this.consumerOn, leader, position: this.cursor }, "stream leader moved; partition consumer follows it");
        this.iter?.stop();
        return;
      }
    } catch (e) {
      this.log.debug({ partition: this.partition, err: e }, "stream leader could not be read");
    }
    // held: only the depth is read; the consumer sends nothing because nothing is asked of it
    if (this.held && this.waitingSince === undefined) {
      this.suspicion = 0;
      const info = await this.jsm.consumers.info(STREAM_ACTORS, name).catch(() => undefined);
      if (info && name === this.consumerName && this.held) this.pending = info.num_pending;
      return;
    }
    // busy handling a message: the consumer is evidently alive, and the depth comes with each message
    if (this.waitingSince === undefined) { this.suspicion = 0; return; }
    try {
      const info = await this.jsm.consumers.info(STREAM_ACTORS, name);
      if (name !== this.consumerName) return;
      if (this.waitingSince === undefined) { this.suspicion = 0; return; }
      this.pending = info.num_pending;
      const idle = performance.now() - this.waitingSince;
      this.suspicion = info.num_pending > 0 && idle > this.probeMs ? this.suspicion + 1 : 0;
    } catch (e) {
      if (name !== this.consumerName) return;
      this.suspicion++;
      this.log.debug({ partition: this.partition, err: e }, "partition consumer probe failed");
    }
    if (this.suspicion >= 2 && !this.stopped) {
      this.log.warn({ partition: this.partition, position: this.cursor }, "partition consumer stalled or gone; recreating");
      this.suspicion = 0;
      this.iter?.stop();
    }
  }
}
