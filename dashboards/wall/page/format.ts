/** Text formats of the wall (pure; local time of the screen). */

const pad2 = (n: number) => String(n).padStart(2, "0");

/** hh:mm:ss, 24-hour local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** hh:mm, 24-hour local time. */
export function clockHm(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

const MINUS = "\u2212";

/** How long ago `ms` was, seen at `now`: "now", "−45 s", "−12 min", "−2 h 05 min". */
export function agoLabel(ms: number, now: number): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return "now";
  if (s < 60) return `${MINUS}${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${MINUS}${m} min`;
  return `${MINUS}${Math.floor(m / 60)} h ${pad2(m % 60)} min`;
}

/** A duration in seconds: "45 s", "3 min 20 s", "1 h 12 min". */
export function durationLabel(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 === 0 || s >= 600 ? `${Math.round(s / 60)} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${pad2(m % 60)} min`;
}

/** A whole count with thousands separators ("1,240"), "—" when unknown. */
export function countLabel(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return Math.round(n).toLocaleString("en-US");
}

/** A signed difference: "+2", "−3" (minus sign), "0". */
export function signed(n: number): string {
  const r = Math.round(n);
  return r > 0 ? `+${r}` : r < 0 ? `${MINUS}${-r}` : "0";
}

/** Messages per second: "0", "3.4", "128", "12.5 k". */
export function rateLabel(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "—";
  if (perSecond >= 10_000) return `${(perSecond / 1000).toFixed(0)} k`;
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)} k`;
  if (perSecond >= 100) return perSecond.toFixed(0);
  if (perSecond === 0) return "0";
  return perSecond.toFixed(1);
}

/** Metres: "12 m", "1.4 km". */
export function metresLabel(m: number | null | undefined): string {
  if (m === null || m === undefined || !Number.isFinite(m)) return "—";
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

/** A percentage of capacity: "73 %", "—" without a capacity. */
export function percentLabel(count: number, capacity: number | null): string {
  if (!capacity) return "—";
  return `${Math.round((100 * count) / capacity)} %`;
}
