import { z } from "zod";

/**
 * Compact snapshot encoding for lists of event keys ("{device}:{eventId}") and timestamps.
 * A space or doorway sees few devices and many events, so the "{device}:" prefix goes into a
 * dictionary and each key keeps only its index and the event id. Timestamps are delta-coded.
 * Lossless for any string (a key without ':' has the empty prefix).
 */
export const KeyColumns = z.strictObject({
  /** distinct prefixes, each including its trailing ':' (or "") */
  p: z.array(z.string()),
  /** prefix index per key */
  i: z.array(z.number().int().nonnegative()),
  /** the rest of each key */
  r: z.array(z.string()),
});
export type KeyColumns = z.infer<typeof KeyColumns>;

export function encodeKeys(keys: readonly string[]): KeyColumns {
  const p: string[] = [];
  const index = new Map<string, number>();
  const i: number[] = new Array(keys.length);
  const r: string[] = new Array(keys.length);
  for (let n = 0; n < keys.length; n++) {
    const key = keys[n]!;
    const cut = key.indexOf(":") + 1;
    const prefix = key.slice(0, cut);
    let at = index.get(prefix);
    if (at === undefined) {
      at = p.length;
      p.push(prefix);
      index.set(prefix, at);
    }
    i[n] = at;
    r[n] = key.slice(cut);
  }
  return { p, i, r };
}

export function decodeKeys(c: KeyColumns): string[] {
  if (c.i.length !== c.r.length) throw new Error("key columns of different lengths");
  const out: string[] = new Array(c.r.length);
  for (let n = 0; n < c.r.length; n++) {
    const prefix = c.p[c.i[n]!];
    if (prefix === undefined) throw new Error(`key prefix index ${c.i[n]} out of range`);
    out[n] = prefix + c.r[n]!;
  }
  return out;
}

/** [t0, t1-t0, t2-t1, ...] */
export function encodeTimes(ts: readonly number[]): number[] {
  const out: number[] = new Array(ts.length);
  let prev = 0;
  for (let n = 0; n < ts.length; n++) {
    out[n] = ts[n]! - prev;
    prev = ts[n]!;
  }
  return out;
}

export function decodeTimes(d: readonly number[]): number[] {
  const out: number[] = new Array(d.length);
  let acc = 0;
  for (let n = 0; n < d.length; n++) {
    acc += d[n]!;
    out[n] = acc;
  }
  return out;
}
