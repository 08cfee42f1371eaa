import { describe, expect, it } from "vitest";
import { SeenKeys } from "../../../actors/doorway/seen-keys.ts";

describe("SeenKeys", () => {
  it("admits a key once, refuses re-sends, and refuses anything older than the horizon", () => {
    const seen = new SeenKeys();
    expect(seen.admit("d:1", 1000, 100)).toBe("fresh");
    expect(seen.admit("d:1", 1000, 100)).toBe("duplicate");
    expect(seen.admit("d:2", 950, 100)).toBe("fresh");
    expect(seen.admit("d:3", 1200, 100)).toBe("fresh");
    // 1200 - 100 = 1100: d:1 (1000) and d:2 (950) are now beyond the horizon
    expect(seen.admit("d:1", 1000, 100)).toBe("too-late");
    expect(seen.admit("d:4", 1099, 100)).toBe("too-late");
    expect(seen.admit("d:5", 1100, 100)).toBe("fresh");
    expect(seen.admit("d:5", 1100, 100)).toBe("duplicate");
  });

  it("prunes keys beyond the horizon so memory stays bounded by the horizon, not by history", () => {
    const seen = new SeenKeys();
    let fresh = 0;
    for (let i = 0; i < 100_000; i++) if (seen.admit(`d:${i}`, i, 1000) === "fresh") fresh++;
    expect(fresh).toBe(100_000);
    expect(seen.size).toBeLessThanOrEqual(1001);
    expect(seen.size).toBeGreaterThanOrEqual(1000);
    expect(seen.admit("d:99999", 99_999, 1000)).toBe("duplicate");
    expect(seen.admit("d:99000", 99_000, 1000)).toBe("duplicate");
    expect(seen.admit("d:98998", 98_998, 1000)).toBe("too-late");
  });

  it("keeps at most maxEntries keys; a forgotten key is refused as too late, never admitted again", () => {
    const seen = new SeenKeys();
    const horizon = 1_000_000; // the horizon alone would keep everything
    for (let i = 0; i < 5_000; i++) expect(seen.admit(`d:${i}`, 10_000 + i, horizon, 1_000)).toBe("fresh");
    expect(seen.size).toBeLessThanOrEqual(1_000);
    expect(seen.size).toBeGreaterThanOrEqual(900);
    // the oldest were shed: their re-sends (and anything as old) are refused
    expect(seen.admit("d:0", 10_000, horizon, 1_000)).toBe("too-late");
    expect(seen.admit("d:new-but-old", 10_001, horizon, 1_000)).toBe("too-late");
    // recent ones are still remembered
    expect(seen.admit("d:4999", 14_999, horizon, 1_000)).toBe("duplicate");
    const back = SeenKeys.decode(JSON.parse(JSON.stringify(seen.encode())));
    expect(back.admit("d:0", 10_000, horizon, 1_000)).toBe("too-late");
    expect(back.admit("d:4999", 14_999, horizon, 1_000)).toBe("duplicate");
  });

  it("survives encode/decode through JSON", () => {
    const seen = new SeenKeys();
    for (let i = 0; i < 50; i++) seen.admit(`dev${i % 2}:e${i}`, 10_000 + ((i * 37) % 50), 30);
    const back = SeenKeys.decode(JSON.parse(JSON.stringify(seen.encode())));
    expect(back.newest).toBe(seen.newest);
    expect(back.size).toBe(seen.size);
    expect(back.admit("dev0:e48", 10_000 + ((48 * 37) % 50), 30)).toBe("duplicate");
    expect(back.admit("dev0:new", 10_049, 30)).toBe("fresh");
    expect(back.admit("dev0:old", 10_000, 30)).toBe("too-late");
    expect(() => SeenKeys.decode({ v: 2 })).toThrow();
  });
});
