/**
 * Binary searches over an ascending array of timestamps.
 * lowerBound: first index with a[i] >= t; upperBound: first index with a[i] > t.
 */
export function lowerBound(a: readonly number[], t: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function upperBound(a: readonly number[], t: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
