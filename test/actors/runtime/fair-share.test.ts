import { describe, expect, it } from "vitest";
import { fairShare, planShare } from "../../../actors/runtime/fair-share.ts";

describe("fair share of partitions", () => {
  it("is ceil(partitions / live hosts), and everything for a lone host", () => {
    expect(fairShare(16, 1)).toBe(16);
    expect(fairShare(16, 2)).toBe(8);
    expect(fairShare(16, 3)).toBe(6);
    expect(fairShare(8, 0)).toBe(8);
    expect(fairShare(3, 5)).toBe(1);
  });

  it("releases extras from the highest partition down", () => {
    const plan = planShare({ partitions: 8, owned: [0, 1, 2, 3, 4, 5, 6, 7], liveHosts: 2 });
    expect(plan).toEqual({ target: 4, release: [7, 6, 5, 4], candidates: [] });
  });

  it("offers every unowned partition, starting at the host's offset", () => {
    const plan = planShare({ partitions: 8, owned: [2, 3], liveHosts: 2, offset: 13 });
    expect(plan.target).toBe(4);
    expect(plan.release).toEqual([]);
    expect(plan.candidates).toEqual([5, 6, 7, 0, 1, 4]);
  });

  it("asks nothing of a host that holds exactly its share", () => {
    expect(planShare({ partitions: 6, owned: [1, 4], liveHosts: 3 })).toEqual({ target: 2, release: [], candidates: [] });
  });
});
