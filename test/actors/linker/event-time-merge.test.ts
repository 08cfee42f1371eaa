import { describe, expect, it } from "vitest";
import type { TrackletsMsg } from "../../../contracts/track-messages.ts";
import { decodeMerge, encodeMerge, mergeOffer, mergeRelease, newMergeState, watermark } from "../../../actors/linker/event-time-merge.ts";

const msg = (camera: string, seq: number, frameTs: number): TrackletsMsg => ({ type: "tracklets", site: "mall", camera, seq, frameTs, updates: [] });
const order = (ms: TrackletsMsg[]) => ms.map((m) => `${m.camera}@${m.frameTs}`);

describe("event-time merge of the linker's cameras", () => {
  it("releases messages in frame-time order whatever order the cameras' streams interleave in", () => {
    const s = newMergeState();
    // both cameras have reported once (they tick every second of frame time)
    const out: TrackletsMsg[] = [...mergeOffer(s, msg("a", 0, 0), 60_000), ...mergeOffer(s, msg("b", 0, 0), 60_000)];
    // camera a runs ahead (its partition is faster), b lags
    for (let i = 1; i < 5; i++) out.push(...mergeOffer(s, msg("a", i, 1000 * i), 60_000));
    expect(order(out)).toEqual(["a@0", "b@0"]); // a could be ahead of b: held
    for (let i = 1; i < 5; i++) out.push(...mergeOffer(s, msg("b", i, 1000 * i + 500), 60_000));
    out.push(...mergeRelease(s, Number.POSITIVE_INFINITY));
    expect(order(out)).toEqual(["a@0", "b@0", "a@1000", "b@1500", "a@2000", "b@2500", "a@3000", "b@3500", "a@4000", "b@4500"]);
  });

  it("does not wait for a camera far behind the others, and passes its late messages straight through", () => {
    const s = newMergeState();
    mergeOffer(s, msg("slow", 0, 0), 10_000);
    mergeOffer(s, msg("fast", 0, 0), 10_000);
    expect(order(mergeOffer(s, msg("fast", 1, 5000), 10_000))).toEqual([]); // slow is 5 s behind: waited for
    // 20 s behind with a 10 s limit: not waited for
    expect(order(mergeOffer(s, msg("fast", 2, 20_000), 10_000))).toEqual(["fast@5000", "fast@20000"]);
    expect(watermark(s, 10_000)).toBe(20_000);
    expect(order(mergeOffer(s, msg("slow", 1, 1000), 10_000))).toEqual(["slow@1000"]);
  });

  it("survives a snapshot round trip with messages held", () => {
    const s = newMergeState();
    mergeOffer(s, msg("a", 0, 0), 60_000);
    mergeOffer(s, msg("b", 0, 0), 60_000);
    mergeOffer(s, msg("a", 1, 1000), 60_000);
    mergeOffer(s, msg("a", 2, 2000), 60_000);
    const back = decodeMerge(JSON.parse(JSON.stringify(encodeMerge(s))));
    expect(order(mergeOffer(back, msg("b", 1, 1500), 60_000))).toEqual(["a@1000", "b@1500"]);
  });
});

describe("event-time merge: bounded", () => {
  it("never holds more than MAX_HELD messages, releasing the oldest when a camera stays behind", async () => {
    const { MAX_HELD } = await import("../../../actors/linker/event-time-merge.ts");
    const s = newMergeState();
    mergeOffer(s, msg("stuck", 0, 0), Number.POSITIVE_INFINITY);
    const released: TrackletsMsg[] = [];
    for (let i = 1; i <= MAX_HELD + 10; i++) released.push(...mergeOffer(s, msg("busy", i, i), Number.POSITIVE_INFINITY));
    expect(s.inbox.length).toBe(MAX_HELD);
    expect(order(released)).toEqual(Array.from({ length: 10 }, (_, i) => `busy@${i + 1}`));
  });
});
