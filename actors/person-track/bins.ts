import { z } from "zod";

/**
 * A person's observations binned per second of event time: for each second with observations,
 * the sums of x and y (integer millimetres, so sums are exact and snapshots compact), of their
 * ms within the second (the bin's mean time), and the count. A bin's position is the mean of every observation of any camera in that second, so
 * overlapping views average out, and a late observation simply lands in its bin. Bins are kept
 * in time order (arrays, append in the usual case). A derived cache of each bin's space is kept
 * beside them and never encoded.
 */
export class SecondBins {
  /** second start, epoch ms */
  readonly t: number[] = [];
  readonly sx: number[] = [];
  readonly sy: number[] = [];
  /** sum of the observations' ms offsets within the second */
  readonly st: number[] = [];
  readonly n: number[] = [];
  /** cached space of each bin: null = not computed yet */
  space: Array<string | undefined | null> = [];
  /** the geometry the cached spaces were computed with */
  spaceOf: unknown;

  get length(): number { return this.t.length; }

  /** Adds an observation; false when it needs a new bin and there are already `maxBins`. */
  add(ts: number, x: number, y: number, maxBins: number): boolean {
    const sec = Math.floor(ts / 1000) * 1000;
    const mx = Math.round(x * 1000), my = Math.round(y * 1000);
    const i = this.indexOf(sec);
    if (i < this.t.length && this.t[i] === sec) {
      this.sx[i]! += mx;
      this.sy[i]! += my;
      this.st[i]! += ts - sec;
      this.n[i]!++;
      this.space[i] = null;
      return true;
    }
    if (this.t.length >= maxBins) return false;
    if (i === this.t.length) {
      this.t.push(sec); this.sx.push(mx); this.sy.push(my); this.st.push(ts - sec); this.n.push(1); this.space.push(null);
    } else {
      this.t.splice(i, 0, sec); this.sx.splice(i, 0, mx); this.sy.splice(i, 0, my); this.st.splice(i, 0, ts - sec);
      this.n.splice(i, 0, 1); this.space.splice(i, 0, null);
    }
    return true;
  }

  /** Mean position of bin i (metres). */
  x(i: number): number { return this.sx[i]! / this.n[i]! / 1000; }
  y(i: number): number { return this.sy[i]! / this.n[i]! / 1000; }
  /** Mean time of bin i (ms, rounded). */
  time(i: number): number { return this.t[i]! + Math.round(this.st[i]! / this.n[i]!); }

  /** The space of every bin through `spaceAt`, cached until a bin changes or `geometry` is another object. */
  spaces(geometry: unknown, spaceAt: (p: [number, number]) => string | undefined): Array<string | undefined> {
    if (this.spaceOf !== geometry) {
      this.space = this.space.map(() => null);
      this.spaceOf = geometry;
    }
    for (let i = 0; i < this.space.length; i++) if (this.space[i] === null) this.space[i] = spaceAt([this.x(i), this.y(i)]);
    return this.space as Array<string | undefined>;
  }

  /** First index whose second is >= sec (binary search; the newest bin is checked first). */
  private indexOf(sec: number): number {
    const n = this.t.length;
    if (n === 0 || this.t[n - 1]! < sec) return n;
    if (this.t[n - 1] === sec) return n - 1;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[mid]! < sec) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Columnar, seconds delta-encoded: [first second ms, second deltas (s), sx, sy, st, n]. */
  encode(): [number, number[], number[], number[], number[], number[]] {
    const t0 = this.t[0] ?? 0;
    const dt = this.t.map((t, i) => (i === 0 ? 0 : (t - this.t[i - 1]!) / 1000));
    return [t0, dt, this.sx, this.sy, this.st, this.n];
  }

  static decode(raw: unknown): SecondBins {
    const [t0, dt, sx, sy, st, n] = BinsSnap.parse(raw);
    if ([sx, sy, st, n].some((c) => c.length !== dt.length)) throw new Error("bins columns differ in length");
    const b = new SecondBins();
    let t = t0;
    for (let i = 0; i < dt.length; i++) {
      t += dt[i]! * 1000;
      b.t.push(t); b.sx.push(sx[i]!); b.sy.push(sy[i]!); b.st.push(st[i]!); b.n.push(n[i]!); b.space.push(null);
    }
    return b;
  }
}

const ints = z.array(z.number().int());
const BinsSnap = z.tuple([
  z.number().int(), z.array(z.number().int().nonnegative()), ints, ints, z.array(z.number().int().nonnegative()), z.array(z.number().int().positive()),
]);
