import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/http/api-error.ts";
import { defaultStep, formatStep, parseStep, readDayRange, readInstant, readSeriesRange } from "../../api/http/time-range.ts";

const NOW = Date.UTC(2024, 5, 15, 12, 0, 0);
const refused = (fn: () => unknown) => {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(ApiError); return (e as ApiError).reason; }
  throw new Error("expected a refusal");
};

describe("query-string times, ranges and steps", () => {
  it("reads instants in every accepted form and refuses the rest with a reason", () => {
    expect(readInstant(undefined, "at", NOW, NOW)).toBe(NOW);
    expect(readInstant("now", "at", 0, NOW)).toBe(NOW);
    expect(readInstant("2024-01-02T03:04:05Z", "at", 0, NOW)).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(readInstant("1984-01-01", "at", 0, NOW)).toBe(Date.UTC(1984, 0, 1));
    expect(readInstant("1700000000000", "at", 0, NOW)).toBe(1_700_000_000_000);
    expect(refused(() => readInstant("yesterday-ish", "at", 0, NOW))).toMatch(/at: "yesterday-ish" is not a time/);
    expect(refused(() => readInstant(["1", "2"], "at", 0, NOW))).toMatch(/once/);
    expect(refused(() => readInstant("9999999999999999", "at", 0, NOW))).toMatch(/out of range/);
  });

  it("parses and prints steps", () => {
    expect(parseStep("15m")).toBe(900_000);
    expect(parseStep("1d")).toBe(86_400_000);
    expect(parseStep("0m")).toBeUndefined();
    expect(parseStep("1y")).toBeUndefined();
    expect(formatStep(3_600_000)).toBe("1h");
    expect(formatStep(90_000)).toBe("90s");
    expect(defaultStep(86_400_000)).toBe(300_000);
  });

  it("limits the number of series points", () => {
    expect(readSeriesRange({ from: "2024-06-14T12:00:00Z", to: "2024-06-15T12:00:00Z", step: "1h" }, NOW))
      .toEqual({ from: NOW - 86_400_000, to: NOW, step: 3_600_000, points: 25 });
    expect(refused(() => readSeriesRange({ from: "2024-01-01", to: "2024-06-01", step: "1m" }, NOW))).toMatch(/at most 10000/);
    expect(refused(() => readSeriesRange({ from: "2024-06-02", to: "2024-06-01" }, NOW))).toMatch(/from must not be after to/);
    expect(refused(() => readSeriesRange({ step: "fortnight" }, NOW))).toMatch(/step/);
  });

  it("reads day ranges (UTC, both ends included) with a limit", () => {
    expect(readDayRange({ from: "2024-06-01", to: "2024-06-03T23:00:00Z" }, NOW))
      .toEqual({ firstDay: Date.UTC(2024, 5, 1), lastDay: Date.UTC(2024, 5, 3) });
    expect(readDayRange({}, NOW)).toEqual({ firstDay: Date.UTC(2024, 5, 9), lastDay: Date.UTC(2024, 5, 15) });
    expect(refused(() => readDayRange({ from: "2020-01-01", to: "2024-01-01" }, NOW))).toMatch(/at most 366/);
  });
});
