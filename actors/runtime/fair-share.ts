/** The most partitions one host should hold while `liveHosts` hosts are alive. */
export function fairShare(partitions: number, liveHosts: number): number {
  return Math.ceil(partitions / Math.max(1, liveHosts));
}

export interface SharePlan {
  target: number;
  /** owned partitions to hand back (after a final checkpoint) */
  release: number[];
  /** unowned partitions to try to acquire, in order, until `target` is reached */
  candidates: number[];
}

/**
 * What a host should do with its partitions. Extras are released from the highest number down;
 * candidates start at an offset derived from the host id so that hosts starting together try
 * different partitions first.
 */
export function planShare(opts: { partitions: number; owned: readonly number[]; liveHosts: number; offset?: number }): SharePlan {
  const target = fairShare(opts.partitions, opts.liveHosts);
  const owned = [...new Set(opts.owned)].sort((a, b) => a - b);
  const release = owned.length > target ? owned.slice(target).reverse() : [];
  const candidates: number[] = [];
  if (owned.length < target) {
    const start = ((opts.offset ?? 0) % opts.partitions + opts.partitions) % opts.partitions;
    for (let i = 0; i < opts.partitions; i++) {
      const p = (start + i) % opts.partitions;
      if (!owned.includes(p)) candidates.push(p);
    }
  }
  return { target, release, candidates };
}
