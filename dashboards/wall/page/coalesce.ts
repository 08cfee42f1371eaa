/**
 * Coalescing (pure): many updates of the same entity between two paints become one, the newest.
 * The wall applies every event to its model at once but repaints at most once per animation frame.
 */
export class Coalescer<K, V> {
  private pending = new Map<K, V>();
  private replaced = 0;

  /** Holds v for k, replacing an unflushed older value. */
  set(k: K, v: V): void {
    if (this.pending.has(k)) this.replaced++;
    this.pending.set(k, v);
  }

  /** The held values (in first-set order) and nothing more until the next set. */
  take(): Map<K, V> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  get size(): number {
    return this.pending.size;
  }

  /** how many values were replaced before being flushed */
  get coalesced(): number {
    return this.replaced;
  }
}

/** Runs `paint` at most once per animation frame, after anything asked for a repaint. */
export class FrameLoop {
  private scheduled = false;
  constructor(private readonly paint: () => void, private readonly schedule: (cb: () => void) => void = (cb) => requestAnimationFrame(() => cb())) {}

  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.paint();
    });
  }
}
