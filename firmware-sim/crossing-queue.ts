import type { SimCrossing } from "./walkers.ts";

/** Crossings waiting for their instant: a binary min-heap on ts. */
export class CrossingQueue {
  private readonly heap: SimCrossing[] = [];

  get size(): number { return this.heap.length; }

  peek(): SimCrossing | undefined { return this.heap[0]; }

  push(c: SimCrossing): void {
    const h = this.heap;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.ts <= h[i]!.ts) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  pop(): SimCrossing | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.ts < h[m]!.ts) m = l;
        if (r < h.length && h[r]!.ts < h[m]!.ts) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
