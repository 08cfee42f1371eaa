import type { Homography } from "../../topology/geometry/homography.ts";

/**
 * Floor positions of a tracked person: the bottom centre of the matched detection box mapped
 * through the camera's image -> floor homography, smoothed by a constant-velocity Kalman filter on
 * the floor (state x, y, vx, vy in metres and m/s, white-noise acceleration).
 *
 * The measurement noise of each point is the box jitter carried through the homography: pixel
 * sigmas (boxJitter x box width, boxJitter x box height) times the local Jacobian J of the
 * homography, R = J diag(su², sv²) Jᵀ + floorMinStd² I. A far person (few pixels per metre) and
 * the depth direction (a pixel of box bottom is many centimetres of depth) are trusted less. A
 * point further than
 * floorGateSigma sigmas from the prediction (a box cut by an occluder, a wrong match) is
 * down-weighted by inflating its noise, not thrown away.
 *
 * The same filter tells the tracker how plausible a detection is for a track (floorDistance2,
 * floorReach2). It is a plain array: [ts, x, y, vx, vy, P (4 x 4 row-major)].
 */
export type FloorFilter = number[];

/** Walking-speed prior (m/s, 1 sigma) of a new track's velocity. */
const V0_STD = 1.5;

/** A foot point on the floor with its 2 x 2 measurement covariance. */
export interface FootPoint { x: number; y: number; rxx: number; rxy: number; ryy: number }

export interface FloorNoise { boxJitter: number; floorMinStd: number }

/**
 * Maps the bottom centre of box [x1, y1, x2, y2] to the floor. undefined when the homography
 * puts it on or behind the horizon (w <= 0) or the result is not finite.
 */
export function footPoint(H: Homography, x1: number, y1: number, x2: number, y2: number, noise: FloorNoise): FootPoint | undefined {
  const h = H.h;
  const u = (x1 + x2) / 2, v = y2;
  const w = h[6]! * u + h[7]! * v + h[8]!;
  if (!(w > 1e-12)) return undefined;
  const x = (h[0]! * u + h[1]! * v + h[2]!) / w;
  const y = (h[3]! * u + h[4]! * v + h[5]!) / w;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return undefined;
  // Jacobian of (x, y) with respect to (u, v)
  const jxu = (h[0]! - x * h[6]!) / w, jxv = (h[1]! - x * h[7]!) / w;
  const jyu = (h[3]! - y * h[6]!) / w, jyv = (h[4]! - y * h[7]!) / w;
  const su = noise.boxJitter * (x2 - x1), sv = noise.boxJitter * (y2 - y1);
  const suu = su * su, svv = sv * sv, m2 = noise.floorMinStd * noise.floorMinStd;
  return {
    x, y,
    rxx: jxu * jxu * suu + jxv * jxv * svv + m2,
    rxy: jxu * jyu * suu + jxv * jyv * svv,
    ryy: jyu * jyu * suu + jyv * jyv * svv + m2,
  };
}

/** A new filter at the first foot point of a track. */
export function startFloor(ts: number, z: FootPoint): FloorFilter {
  const v0 = V0_STD * V0_STD;
  return [
    ts, z.x, z.y, 0, 0,
    z.rxx, z.rxy, 0, 0,
    z.rxy, z.ryy, 0, 0,
    0, 0, v0, 0,
    0, 0, 0, v0,
  ];
}

const P0 = 5;

/**
 * Squared Mahalanobis distance of foot point z from where the person can have got to by ts at
 * walking speed in any direction (a stop or a sharp turn breaks the constant-velocity prediction
 * but not this): from the filter's position, covariance P + R + (maxSpeed dt)² I.
 */
export function floorReach2(f: FloorFilter, ts: number, z: FootPoint, maxSpeed: number): number {
  const dt = Math.max(0, (ts - f[0]!) / 1000);
  const m = (maxSpeed * dt) ** 2;
  const s00 = f[P0]! + z.rxx + m, s01 = f[P0 + 1]! + z.rxy, s11 = f[P0 + 5]! + z.ryy + m;
  const yx = z.x - f[1]!, yy = z.y - f[2]!;
  const det = s00 * s11 - s01 * s01;
  if (!(det > 0)) return 0;
  return (s11 * yx * yx - 2 * s01 * yx * yy + s00 * yy * yy) / det;
}

/**
 * Squared Mahalanobis distance of foot point z from the filter's position predicted to ts (the
 * filter is not changed): small when z is where this track's person can be by then, given the
 * track's uncertainty and z's own noise.
 */
export function floorDistance2(f: FloorFilter, ts: number, z: FootPoint, accelStd: number): number {
  const dt = Math.max(0, (ts - f[0]!) / 1000);
  const q = accelStd * accelStd * dt ** 4 / 4;
  // predicted position covariance (the A' block of predict below) plus z's noise
  const s00 = f[P0]! + 2 * dt * f[P0 + 2]! + dt * dt * f[P0 + 10]! + q + z.rxx;
  const s01 = f[P0 + 1]! + dt * (f[P0 + 3]! + f[P0 + 9]!) + dt * dt * f[P0 + 11]! + z.rxy;
  const s11 = f[P0 + 5]! + 2 * dt * f[P0 + 7]! + dt * dt * f[P0 + 15]! + q + z.ryy;
  const yx = z.x - (f[1]! + dt * f[3]!), yy = z.y - (f[2]! + dt * f[4]!);
  const det = s00 * s11 - s01 * s01;
  if (!(det > 0)) return 0;
  return (s11 * yx * yx - 2 * s01 * yx * yy + s00 * yy * yy) / det;
}

/**
 * Predicts the filter to ts and corrects it with the foot point z; the smoothed position is then
 * f[1], f[2]. accelStd in m/s², gateSigma: innovations beyond it are down-weighted.
 */
export function stepFloor(f: FloorFilter, ts: number, z: FootPoint, accelStd: number, gateSigma: number): void {
  const dt = (ts - f[0]!) / 1000;
  if (dt > 0) predict(f, dt, accelStd);
  if (ts > f[0]!) f[0] = ts;

  // innovation y = z - H x, S = H P Hᵀ + R (H picks x, y)
  const yx = z.x - f[1]!, yy = z.y - f[2]!;
  const a00 = f[P0]!, a01 = f[P0 + 1]!, a11 = f[P0 + 5]!;
  let rxx = z.rxx, rxy = z.rxy, ryy = z.ryy;
  let s00 = a00 + rxx, s01 = a01 + rxy, s11 = a11 + ryy;
  let det = s00 * s11 - s01 * s01;
  if (!(det > 0)) return;
  const d2 = (s11 * yx * yx - 2 * s01 * yx * yy + s00 * yy * yy) / det;
  const g2 = gateSigma * gateSigma;
  if (d2 > g2) {
    const k = d2 / g2;
    rxx *= k; rxy *= k; ryy *= k;
    s00 = a00 + rxx; s01 = a01 + rxy; s11 = a11 + ryy;
    det = s00 * s11 - s01 * s01;
    if (!(det > 0)) return;
  }
  const i00 = s11 / det, i01 = -s01 / det, i11 = s00 / det;

  // K = P Hᵀ S⁻¹ (4 x 2): P Hᵀ is the first two columns of P
  const K = scratchK;
  for (let r = 0; r < 4; r++) {
    const p0 = f[P0 + r * 4]!, p1 = f[P0 + r * 4 + 1]!;
    K[r * 2] = p0 * i00 + p1 * i01;
    K[r * 2 + 1] = p0 * i01 + p1 * i11;
  }
  for (let r = 0; r < 4; r++) f[1 + r] = f[1 + r]! + K[r * 2]! * yx + K[r * 2 + 1]! * yy;
  // P = P - K H P (H P = the first two rows of P)
  const P = scratchP;
  for (let i = 0; i < 16; i++) P[i] = f[P0 + i]!;
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      f[P0 + r * 4 + c] = P[r * 4 + c]! - K[r * 2]! * P[c]! - K[r * 2 + 1]! * P[4 + c]!;
    }
  }
  // keep P symmetric against rounding drift
  for (let r = 0; r < 4; r++) {
    for (let c = r + 1; c < 4; c++) {
      const m = (f[P0 + r * 4 + c]! + f[P0 + c * 4 + r]!) / 2;
      f[P0 + r * 4 + c] = m;
      f[P0 + c * 4 + r] = m;
    }
  }
}

/** Scratch space (one filter step at a time). */
const scratchK = new Float64Array(8);
const scratchP = new Float64Array(16);

/** x' = F x, P' = F P Fᵀ + Q with F = [[I, dt I], [0, I]], Q from white-noise acceleration. */
function predict(f: FloorFilter, dt: number, accelStd: number): void {
  f[1] = f[1]! + dt * f[3]!;
  f[2] = f[2]! + dt * f[4]!;
  // P as blocks [[A, B], [Bᵀ, D]]: A' = A + dt (B + Bᵀ) + dt² D, B' = B + dt D, D' = D
  const P = scratchP;
  for (let i = 0; i < 16; i++) P[i] = f[P0 + i]!;
  const q = accelStd * accelStd;
  const qpp = q * dt ** 4 / 4, qpv = q * dt ** 3 / 2, qvv = q * dt * dt;
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      const a = P[r * 4 + c]!, b = P[r * 4 + c + 2]!, bt = P[(r + 2) * 4 + c]!, d = P[(r + 2) * 4 + c + 2]!;
      const diag = r === c;
      f[P0 + r * 4 + c] = a + dt * (b + bt) + dt * dt * d + (diag ? qpp : 0);
      f[P0 + r * 4 + c + 2] = b + dt * d + (diag ? qpv : 0);
      f[P0 + (r + 2) * 4 + c] = bt + dt * d + (diag ? qpv : 0);
      f[P0 + (r + 2) * 4 + c + 2] = d + (diag ? qvv : 0);
    }
  }
}
