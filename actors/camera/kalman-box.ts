/**
 * Constant-velocity Kalman filter on an image box, as in SORT / ByteTrack: state
 * (cx, cy, a, h, vcx, vcy, va, vh) with a = width / height, velocities per SECOND, noise that
 * scales with the box height, and a real time step from frame timestamps (variable fps works).
 *
 * Every matrix of the model (transition, process noise, measurement, initial covariance) is block
 * diagonal per coordinate, so the 8-state filter is exactly four independent 2-state filters
 * (position, velocity) that share only the height used to scale their noise. Each keeps its 2 x 2
 * covariance as three numbers. The whole filter is a plain array of 20 numbers (serialisable):
 *
 *   [0..3]  cx, cy, a, h           [4..7]  their velocities (per second)
 *   [8 + 3k .. 10 + 3k]  var(pos_k), cov(pos_k, vel_k), var(vel_k)   for k = 0..3
 *
 * Noise figures are ByteTrack's (tuned per frame at refFps): position sigma h/20, velocity
 * sigma h/160 per frame; aspect 1e-2 / 1e-5. Process noise is a random walk, so its variance
 * grows linearly with dt (in units of reference frames).
 */
export type BoxFilter = number[];

export const BOX_FILTER_SIZE = 20;

const W_POS = 1 / 20;
const W_VEL = 1 / 160;

/** New filter from a measured box [x1, y1, x2, y2]. */
export function initiateBox(x1: number, y1: number, x2: number, y2: number, refFps: number): BoxFilter {
  const w = x2 - x1, h = y2 - y1;
  const f: BoxFilter = new Array<number>(BOX_FILTER_SIZE).fill(0);
  f[0] = x1 + w / 2;
  f[1] = y1 + h / 2;
  f[2] = w / h;
  f[3] = h;
  const sp = 2 * W_POS * h, sv = 10 * W_VEL * h * refFps;
  const spa = 1e-2, sva = 1e-5 * refFps;
  for (let k = 0; k < 4; k++) {
    const pos = k === 2 ? spa : sp, vel = k === 2 ? sva : sv;
    f[8 + 3 * k] = pos * pos;
    f[9 + 3 * k] = 0;
    f[10 + 3 * k] = vel * vel;
  }
  return f;
}

/** Moves the filter dt seconds ahead (dt <= 0 leaves it as it is). */
export function predictBox(f: BoxFilter, dt: number, refFps: number): void {
  if (!(dt > 0)) return;
  const h = f[3]!;
  const frames = dt * refFps;
  const sp = W_POS * h, sv = W_VEL * h * refFps;
  const qpXY = sp * sp * frames, qvXY = sv * sv * frames;
  const qpA = 1e-4 * frames, svA = 1e-5 * refFps, qvA = svA * svA * frames;
  for (let k = 0; k < 4; k++) {
    const qp = k === 2 ? qpA : qpXY, qv = k === 2 ? qvA : qvXY;
    const i = 8 + 3 * k;
    const pp = f[i]!, pv = f[i + 1]!, vv = f[i + 2]!;
    f[k] = f[k]! + dt * f[4 + k]!;
    f[i] = pp + 2 * dt * pv + dt * dt * vv + qp;
    f[i + 1] = pv + dt * vv;
    f[i + 2] = vv + qv;
  }
  // a box cannot shrink below a pixel however long it coasts
  if (f[3]! < 1) f[3] = 1;
}

/** Corrects the filter with a measured box [x1, y1, x2, y2]. */
export function updateBox(f: BoxFilter, x1: number, y1: number, x2: number, y2: number): void {
  const w = x2 - x1, h = y2 - y1;
  const sr = W_POS * f[3]!;
  const rXY = sr * sr, rA = 1e-2;
  const z0 = x1 + w / 2, z1 = y1 + h / 2, z2 = w / h, z3 = h;
  for (let k = 0; k < 4; k++) {
    const z = k === 0 ? z0 : k === 1 ? z1 : k === 2 ? z2 : z3;
    const r = k === 2 ? rA : rXY;
    const i = 8 + 3 * k;
    const pp = f[i]!, pv = f[i + 1]!, vv = f[i + 2]!;
    const s = pp + r;
    const kp = pp / s, kv = pv / s;
    const y = z - f[k]!;
    f[k] = f[k]! + kp * y;
    f[4 + k] = f[4 + k]! + kv * y;
    f[i] = (1 - kp) * pp;
    f[i + 1] = (1 - kp) * pv;
    f[i + 2] = vv - kv * pv;
  }
}

/** Stops the height from changing while a track coasts (ByteTrack does this for lost tracks). */
export function freezeHeight(f: BoxFilter): void {
  f[7] = 0;
}

/** Writes the filter's box as x1, y1, x2, y2 into out[at..at+3]. */
export function boxOf(f: BoxFilter, out: Float64Array, at: number): void {
  const h = f[3]!, w = f[2]! * h;
  out[at] = f[0]! - w / 2;
  out[at + 1] = f[1]! - h / 2;
  out[at + 2] = f[0]! + w / 2;
  out[at + 3] = f[1]! + h / 2;
}
