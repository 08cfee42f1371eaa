import { describe, expect, it } from "vitest";
import { CrossingPayload } from "../../contracts/crossing.ts";
import { quickCrossingPayload } from "../../contracts/crossing-fast.ts";
import { MAX_TS, MIN_TS } from "../../contracts/time.ts";

const ids: unknown[] = ["e1", "a:b/c#1", "x".repeat(128), "x".repeat(129), "", "has space", "tab\t", "é", "~!", 7, null, ["e1"]];
const tss: unknown[] = [Date.UTC(2026, 0, 1), MIN_TS, MAX_TS, MIN_TS - 1, MAX_TS + 1, 1.5e12 + 0.5, -1, 0, Number.MAX_SAFE_INTEGER + 2,
  "2026-01-01T00:00:00Z", "1767225600000", null, true];
const doorways: unknown[] = ["d1", "Door_2-b", "x".repeat(64), "x".repeat(65), "", "d.1", "d 1", "dø", 1];
const deltas: unknown[] = [1, -1, 0, 2, "1", 1.0, -1.5, true, null];

describe("quickCrossingPayload: the broker's zod-free path for one epoch-ms crossing", () => {
  it("never accepts what CrossingPayload refuses, and when it accepts, returns exactly what CrossingPayload returns", () => {
    let accepted = 0, cases = 0;
    const check = (v: unknown) => {
      cases++;
      const quick = quickCrossingPayload(v);
      if (quick === undefined) return;
      accepted++;
      const z = CrossingPayload.safeParse(v);
      expect(z.success, JSON.stringify(v)).toBe(true);
      expect(quick).toEqual(z.data);
    };
    for (const id of ids) for (const ts of tss) for (const doorway of doorways) for (const delta of deltas) {
      check({ id, ts, doorway, delta });
      check(JSON.parse(JSON.stringify({ id, ts, doorway, delta }) ?? "null"));
    }
    const ok = { id: "e1", ts: Date.UTC(2026, 0, 1), doorway: "d1", delta: 1 };
    for (const v of [
      ok, { ...ok, extra: 1 }, { id: "e1", ts: ok.ts, doorway: "d1" }, { ...ok, delta: undefined }, { events: [ok] }, [ok], null, "x", 5,
      JSON.parse(`{"id":"e1","ts":${ok.ts},"doorway":"d1","delta":1,"__proto__":{"x":1}}`), Object.assign(Object.create({ inherited: 1 }), ok),
      Object.assign(Object.create(null), ok),
    ]) check(v);
    expect(cases).toBeGreaterThan(20_000);
    expect(accepted).toBeGreaterThan(100);
  });

  it("takes the common payload (one event, epoch ms) and leaves batches and RFC 3339 times to zod", () => {
    const ts = Date.UTC(2026, 5, 1, 12);
    expect(quickCrossingPayload(JSON.parse(JSON.stringify({ id: "e42", ts, doorway: "north", delta: -1 })))).toEqual([{ id: "e42", ts, doorway: "north", delta: -1 }]);
    expect(quickCrossingPayload({ events: [{ id: "e1", ts, doorway: "north", delta: 1 }] })).toBeUndefined();
    expect(quickCrossingPayload({ id: "e1", ts: "2026-06-01T12:00:00Z", doorway: "north", delta: 1 })).toBeUndefined();
  });
});
