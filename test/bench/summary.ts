/** Medians and ranges over repeated runs of a bench (test/bench/repeat.ts, test/bench/broker.ts). */

export type Figures = { [k: string]: number | string | Figures };

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Numbers become {median, min, max}; the rest is kept from the first run. */
export function summarise(values: Array<number | string | Figures>): unknown {
  const first = values[0];
  if (typeof first === "number") {
    const xs = values.filter((v): v is number => typeof v === "number");
    return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  }
  if (typeof first === "object" && first !== null) {
    return Object.fromEntries(Object.keys(first).map((k) => [k, summarise(values.map((v) => (v as Figures)[k]!))]));
  }
  return first;
}
