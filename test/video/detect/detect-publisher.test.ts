/**
 * The detection process's frame publisher (pure logic over its uplink): at most maxInFlight
 * frames unacknowledged; a stop while the broker holds back every acknowledgement does not hang.
 */
import { describe, expect, it } from "vitest";
import { FramePublisher } from "../../../video/detect/detect-publisher.ts";
import type { DetectionFrame } from "../../../contracts/detection.ts";

const frame = (seq: number): DetectionFrame => ({ frame_ts: 1_796_000_000_000 + seq * 200, seq, detections: [] });

/** an uplink whose acknowledgements the test releases */
function heldUplink() {
  const acks: Array<() => void> = [];
  return { acks, publishFrame: () => new Promise<void>((r) => acks.push(r)) };
}

describe("frame publisher", () => {
  it("keeps at most maxInFlight frames unacknowledged and goes on as acknowledgements come", async () => {
    const up = heldUplink();
    const p = new FramePublisher(up, 2);
    expect(await p.publish(frame(0))).toBe(true);
    expect(await p.publish(frame(1))).toBe(true);
    let third = false;
    const t = p.publish(frame(2)).then((ok) => { third = ok; });
    await new Promise((r) => setTimeout(r, 20));
    expect([third, up.acks.length, p.pending]).toEqual([false, 2, 2]);
    up.acks[0]!();
    await t;
    expect([third, up.acks.length]).toEqual([true, 3]);
    for (const a of up.acks.slice(1)) a();
    expect(await p.drain(1000)).toBe(true);
    expect(p.counters).toEqual({ sent: 3, acked: 3, failed: 0 });
  });

  it("a stop while no acknowledgement comes returns without publishing", async () => {
    const up = heldUplink();
    const p = new FramePublisher(up, 1);
    await p.publish(frame(0));
    const ac = new AbortController();
    const waiting = p.publish(frame(1), ac.signal);
    setTimeout(() => ac.abort(), 20);
    expect(await waiting).toBe(false);
    expect(await p.publish(frame(2), ac.signal)).toBe(false);
    expect(p.counters.sent).toBe(1);
    expect(await p.drain(50)).toBe(false);
  });
});
