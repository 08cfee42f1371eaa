import { MinHeap } from "./min-heap.ts";
import type { SimCrossing } from "./ground-truth.ts";

/** Crossings waiting for their instant: a min-heap on ts. */
export class CrossingQueue extends MinHeap<SimCrossing> {
  constructor() { super((a, b) => a.ts < b.ts); }
}
