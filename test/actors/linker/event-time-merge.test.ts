import { describe, expect, it } from "vitest";
import type { TrackletsMsg } from "../../../contracts/track-messages.ts";
import { decodeMerge, encodeMerge, mergeHear, mergeOffer, mergeRelease, newMergeState, watermark } from "../../../actors/linker/event-time-merge.ts";

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

describe("event-time merge: the site's cameras at the start", () => {
  const site = ["a", "b"];
  it("waits for a camera of the site that has not reported yet, so its first messages are not applied late", () => {
    // without the site's cameras: b's partition starts later, and a's messages have gone past b's first one
    const blind = newMergeState();
    const early = [...mergeOffer(blind, msg("a", 0, 0), 60_000), ...mergeOffer(blind, msg("a", 1, 1000), 60_000)];
    expect(order(early)).toEqual(["a@0", "a@1000"]);
    expect(order(mergeOffer(blind, msg("b", 0, 10), 60_000))).toEqual(["b@10"]); // out of order

    const s = newMergeState();
    expect(order([...mergeOffer(s, msg("a", 0, 0), 60_000, site), ...mergeOffer(s, msg("a", 1, 1000), 60_000, site)])).toEqual([]);
    expect(order(mergeOffer(s, msg("b", 0, 10), 60_000, site))).toEqual(["a@0", "b@10"]);
    expect(order(mergeOffer(s, msg("b", 1, 1010), 60_000, site))).toEqual(["a@1000"]);
  });

  it("stops waiting for a silent camera linkerWaitMs after the first message, and never waits for it again", () => {
    const s = newMergeState();
    expect(order(mergeOffer(s, msg("a", 0, 0), 10_000, site))).toEqual([]);
    expect(order(mergeOffer(s, msg("a", 1, 5000), 10_000, site))).toEqual([]);
    expect(order(mergeOffer(s, msg("a", 2, 10_001), 10_000, site))).toEqual(["a@0", "a@5000", "a@10001"]);
    // a camera added to the site later is not waited for before it reports
    expect(order(mergeOffer(s, msg("a", 3, 11_000), 10_000, [...site, "c"]))).toEqual(["a@11000"]);
  });

  it("keeps its start across a snapshot; a snapshot from before the start was kept waits for no silent camera", () => {
    const s = newMergeState();
    mergeOffer(s, msg("a", 0, 0), 60_000, site);
    const back = decodeMerge(JSON.parse(JSON.stringify(encodeMerge(s))));
    expect(back.startTs).toBe(0);
    expect(order(mergeOffer(back, msg("a", 1, 1000), 60_000, site))).toEqual([]);
    const { startTs: _, ...old } = encodeMerge(s);
    const fromOld = decodeMerge(JSON.parse(JSON.stringify(old)));
    expect(order(mergeOffer(fromOld, msg("a", 1, 1000), 60_000, site))).toEqual(["a@0", "a@1000"]);
  });
});

describe("event-time merge: a camera's messages heard once", () => {
  it("drops what a camera re-sends after its partition was replayed, also across a snapshot", () => {
    const s = newMergeState();
    const heard = (m: TrackletsMsg) => mergeHear(s, m);
    expect([0, 1, 2].map((i) => heard(msg("a", i, 1000 * i)))).toEqual([true, true, true]);
    expect(heard(msg("b", 0, 500))).toBe(true);
    // the replay repeats a's messages from 1 on, then goes on
    expect([1, 2].map((i) => heard(msg("a", i, 1000 * i)))).toEqual([false, false]);
    expect(heard(msg("a", 3, 3000))).toBe(true);
    const back = decodeMerge(JSON.parse(JSON.stringify(encodeMerge(s))));
    expect(mergeHear(back, msg("a", 3, 3000))).toBe(false);
    expect(mergeHear(back, msg("b", 0, 500))).toBe(false);
    expect(mergeHear(back, msg("b", 1, 1500))).toBe(true);
  });

  it("takes every part of a split frame once, and a camera that restarted its counter", () => {
    const s = newMergeState();
    const part = (m: TrackletsMsg, k: number): TrackletsMsg => ({ ...m, part: k });
    expect(mergeHear(s, msg("a", 7, 7000))).toBe(true);
    expect(mergeHear(s, part(msg("a", 7, 7000), 1))).toBe(true);
    expect(mergeHear(s, part(msg("a", 7, 7000), 2))).toBe(true);
    expect(mergeHear(s, part(msg("a", 7, 7000), 1))).toBe(false);
    expect(mergeHear(s, msg("a", 7, 7000))).toBe(false);
    // counter back to 0, frame time goes on
    expect(mergeHear(s, msg("a", 0, 8000))).toBe(true);
    expect(mergeHear(s, msg("a", 1, 8200))).toBe(true);
  });

  it("reads a snapshot written before it remembered what it heard", () => {
    const old = { inbox: [msg("a", 3, 3000)], cameraTs: [["a", 3000]], released: 2000 };
    const back = decodeMerge(old as never);
    expect(mergeHear(back, msg("a", 3, 3000))).toBe(true);
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
