import { describe, expect, it } from "vitest";
import { summarizeDays } from "../../api/occupancy/daily-stats.ts";

const D0 = Date.UTC(2024, 2, 4);
const H = 3_600_000;
const DAY = 24 * H;

describe("summarizeDays (step function, UTC days)", () => {
  it("weights each count by how long it held and includes the carried-in count in the peak", () => {
    // carry 2 until 06:00, then 10 until 18:00, then 0
    const r = summarizeDays(2, [[D0 + 6 * H, 10], [D0 + 18 * H, 0]], [D0], D0 + 10 * DAY);
    expect(r.days).toEqual([{ date: "2024-03-04", peak: 10, average: (2 * 6 + 10 * 12) / 24 }]);
    expect(r.carry).toBe(0);
  });

  it("carries the count across days without points and peaks on the carried value", () => {
    const r = summarizeDays(0, [[D0 + 12 * H, 4]], [D0, D0 + DAY, D0 + 2 * DAY], D0 + 10 * DAY);
    expect(r.days).toEqual([
      { date: "2024-03-04", peak: 4, average: 2 },
      { date: "2024-03-05", peak: 4, average: 4 },
      { date: "2024-03-06", peak: 4, average: 4 },
    ]);
  });

  it("averages today over its elapsed part only and leaves out days not begun", () => {
    const r = summarizeDays(1, [[D0 + 2 * H, 3]], [D0, D0 + DAY], D0 + 4 * H);
    expect(r.days).toEqual([{ date: "2024-03-04", peak: 3, average: (1 * 2 + 3 * 2) / 4 }]);
  });

  it("a point exactly at midnight belongs to the day it opens", () => {
    const r = summarizeDays(5, [[D0 + DAY, 1]], [D0, D0 + DAY], D0 + 10 * DAY);
    expect(r.days.map((d) => d.peak)).toEqual([5, 1]);
    expect(r.days.map((d) => d.average)).toEqual([5, 1]);
  });
});
