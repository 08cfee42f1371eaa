import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/http/api-error.ts";
import { decodeCursor, encodeCursor } from "../../api/tracks/page-cursor.ts";
import { RetentionGuard, durationMs } from "../../api/tracks/retention.ts";
import { parseDistanceQuery, parseDwellQuery, parseHeatmapQuery, parsePathsQuery } from "../../api/tracks/track-filters.ts";

const NOW = Date.UTC(2026, 10, 23, 12);
const H = 3_600_000;

/** The ApiError a call throws (fails the test if it does not throw one). */
function refusal(fn: () => unknown): ApiError {
  try { fn(); } catch (e) { if (e instanceof ApiError) return e; throw e; }
  throw new Error("expected a refusal");
}

describe("query parameters of /paths, /stats and /heatmap", () => {
  it("defaults: to = now, from = to - 24 h, limit 100, newest first, min_confidence 0", () => {
    const p = parsePathsQuery({ site: "mall" }, NOW);
    expect(p).toMatchObject({ site: "mall", from: NOW - 24 * H, to: NOW, attrs: [], minConfidence: 0, limit: 100, order: "desc" });
    expect(p.zone).toBeUndefined();
  });

  it("upper, lower and any other attribute name are attribute filters, sorted by name", () => {
    const p = parsePathsQuery({ site: "mall", upper: "blue", shoes: "white", lower: "black", bag: "yes", min_confidence: "0.6", zone: "hall" }, NOW);
    expect(p.attrs).toEqual([{ name: "bag", value: "yes" }, { name: "lower", value: "black" }, { name: "shoes", value: "white" }, { name: "upper", value: "blue" }]);
    expect(p.minConfidence).toBe(0.6);
    expect(p.zone).toBe("hall");
  });

  it("times in every accepted form", () => {
    const p = parseDistanceQuery({ site: "s", from: "2026-11-23", to: "2026-11-23T10:00:00Z" }, NOW);
    expect(p.from).toBe(Date.UTC(2026, 10, 23));
    expect(p.to).toBe(Date.UTC(2026, 10, 23, 10));
    expect(parseDistanceQuery({ site: "s", from: String(NOW - H), to: "now" }, NOW)).toMatchObject({ from: NOW - H, to: NOW });
  });

  it("refuses bad parameters with 400 and a reason naming each", () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /site: site is required/],
      [{ site: "a b" }, /site: site must be 1-64 characters/],
      [{ site: "s", from: "yesterday" }, /from: "yesterday" is not a time/],
      [{ site: "s", from: "2026-11-23T11:00:00Z", to: "2026-11-23T10:00:00Z" }, /from must not be after to/],
      [{ site: "s", from: "2026-01-01", to: "2026-03-01" }, /spans more than 31 days/],
      [{ site: "s", upper: "bleu" }, /upper must be one of black, white/],
      [{ site: "s", shoes: "White!" }, /attribute values are 1-32 characters/],
      [{ site: "s", upper: ["blue", "red"] }, /upper must be given once/],
      [{ site: "s", min_confidence: "1.5" }, /min_confidence must be at most 1/],
      [{ site: "s", min_confidence: "high" }, /min_confidence must be a number/],
      [{ site: "s", limit: "0" }, /limit must be at least 1/],
      [{ site: "s", limit: "1001" }, /limit must be at most 1000/],
      [{ site: "s", order: "random" }, /order must be desc/],
      [{ site: "s", cell: "2" }, /cell: not a parameter of this query/],
      [{ site: "s", "Shoe-Colour": "red" }, /Shoe-Colour: unknown parameter/],
    ];
    for (const [q, reason] of cases) {
      const e = refusal(() => parsePathsQuery(q, NOW));
      expect(e.status, JSON.stringify(q)).toBe(400);
      expect(e.reason, JSON.stringify(q)).toMatch(reason);
    }
    expect(refusal(() => parseHeatmapQuery({ site: "s", cell: "0.01" }, NOW)).reason).toMatch(/cell must be at least 0.1/);
    expect(parseHeatmapQuery({ site: "s", cell: "2.5" }, NOW).cell).toBe(2.5);
    expect(refusal(() => parseDistanceQuery({ site: "s", limit: "5" }, NOW)).reason).toMatch(/limit: not a parameter/);
    expect(refusal(() => parseDwellQuery({ site: "s" }, NOW)).reason).toMatch(/space: space is required/);
    expect(refusal(() => parseDwellQuery({ site: "s", space: "hall", upper: "blue" }, NOW)).reason).toMatch(/upper: unknown parameter/);
  });

  it("a cursor continues only the query it came from", () => {
    const p = parsePathsQuery({ site: "mall", upper: "blue" }, NOW);
    const c = encodeCursor(p, "desc", "1795000000000123456");
    expect(decodeCursor(c, p, "desc")).toEqual({ afterNs: "1795000000000123456", from: p.from, to: p.to });
    const other = parsePathsQuery({ site: "mall", upper: "red" }, NOW);
    expect(refusal(() => decodeCursor(c, other, "desc")).reason).toMatch(/belongs to another query/);
    expect(refusal(() => decodeCursor(c, p, "asc")).reason).toMatch(/belongs to another query/);
    expect(refusal(() => decodeCursor("not-a-cursor", p, "desc")).reason).toMatch(/cursor is not valid/);
  });
});

describe("retention guard", () => {
  it("parses InfluxDB durations", () => {
    expect(durationMs("30d")).toBe(30 * 24 * H);
    expect(durationMs("12h")).toBe(12 * H);
    expect(durationMs("2w")).toBe(14 * 24 * H);
    expect(durationMs("INF")).toBeUndefined();
  });

  it("refuses instants older than the raw retention with 410 and a clear reason", () => {
    const g = new RetentionGuard("30d");
    g.check(NOW - 29 * 24 * H, NOW);
    g.check(NOW - 30 * 24 * H - 60_000, NOW); // within the grace
    const e = refusal(() => g.check(NOW - 31 * 24 * H, NOW));
    expect(e.status).toBe(410);
    expect(e.code).toBe("beyond_retention");
    expect(e.reason).toMatch(/data older than 30d is not kept/);
    new RetentionGuard("INF").check(0, NOW);
  });
});
