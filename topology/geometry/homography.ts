import { Matrix, SVD } from "ml-matrix";
import type { Point } from "../../contracts/geometry.ts";

/** A plane-to-plane projective map (3x3, row-major, h[8] = 1). */
export interface Homography { readonly h: readonly number[] }

export class DegenerateCalibration extends Error {
  constructor(reason: string) {
    super(`calibration is degenerate: ${reason}`);
    this.name = "DegenerateCalibration";
  }
}

/** Maps a point through the homography. Returns undefined for points on or behind the horizon line (w <= 0). */
export function applyHomography(H: Homography, p: Point): Point | undefined {
  const h = H.h;
  const w = h[6]! * p[0] + h[7]! * p[1] + h[8]!;
  if (!(w > 1e-12)) return undefined;
  return [(h[0]! * p[0] + h[1]! * p[1] + h[2]!) / w, (h[3]! * p[0] + h[4]! * p[1] + h[5]!) / w];
}

export function invertHomography(H: Homography): Homography {
  const m = new Matrix([H.h.slice(0, 3) as number[], H.h.slice(3, 6) as number[], H.h.slice(6, 9) as number[]]);
  const inv = new SVD(m).inverse();
  const flat = inv.to1DArray();
  const s = flat[8]!;
  if (Math.abs(s) < 1e-15) throw new DegenerateCalibration("the homography cannot be inverted");
  return { h: flat.map((v) => v / s) };
}

/** Hartley normalisation: centroid to the origin, mean distance sqrt(2). */
function normaliser(pts: readonly Point[]): { T: Matrix; apply: (p: Point) => Point } {
  const cx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const cy = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  const d = pts.reduce((a, p) => a + Math.hypot(p[0] - cx, p[1] - cy), 0) / pts.length;
  const s = d > 0 ? Math.SQRT2 / d : 1;
  return {
    T: new Matrix([[s, 0, -s * cx], [0, s, -s * cy], [0, 0, 1]]),
    apply: (p) => [s * (p[0] - cx), s * (p[1] - cy)],
  };
}

/** Twice the area of the triangle abc (0 when collinear). */
const cross3 = (a: Point, b: Point, c: Point) => (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);

/** Whether some 4 of the points are in general position (no three on a line), relative to their spread. */
function hasFourInGeneralPosition(pts: readonly Point[]): boolean {
  const spread = Math.max(...pts.map((p) => Math.abs(p[0])), ...pts.map((p) => Math.abs(p[1])), 1);
  const eps = 1e-6 * spread * spread;
  const n = Math.min(pts.length, 12);
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) for (let c = b + 1; c < n; c++) for (let d = c + 1; d < n; d++) {
    const [A, B, C, D] = [pts[a]!, pts[b]!, pts[c]!, pts[d]!];
    if (Math.abs(cross3(A, B, C)) > eps && Math.abs(cross3(A, B, D)) > eps && Math.abs(cross3(A, C, D)) > eps && Math.abs(cross3(B, C, D)) > eps) return true;
  }
  return false;
}

/**
 * Fits the homography mapping `from` points onto `to` points (direct linear transform with
 * Hartley normalisation, least squares over all pairs via SVD). Throws DegenerateCalibration when
 * there are fewer than 4 pairs, the counts differ, no 4 points are in general position, the
 * system is rank-deficient, or the fit maps some calibration point behind the camera.
 */
export function fitHomography(from: readonly Point[], to: readonly Point[]): Homography {
  if (from.length !== to.length) throw new DegenerateCalibration(`${from.length} image points but ${to.length} floor points`);
  if (from.length < 4) throw new DegenerateCalibration(`${from.length} point pairs; at least 4 are needed`);
  if (!hasFourInGeneralPosition(from)) throw new DegenerateCalibration("the image points are (nearly) collinear: no 4 of them have no three on a line");
  if (!hasFourInGeneralPosition(to)) throw new DegenerateCalibration("the floor points are (nearly) collinear: no 4 of them have no three on a line");
  const nf = normaliser(from);
  const nt = normaliser(to);
  const rows: number[][] = [];
  for (let i = 0; i < from.length; i++) {
    const [x, y] = nf.apply(from[i]!);
    const [u, v] = nt.apply(to[i]!);
    rows.push([-x, -y, -1, 0, 0, 0, u * x, u * y, u]);
    rows.push([0, 0, 0, -x, -y, -1, v * x, v * y, v]);
  }
  // pad to 9 rows so the SVD yields the full right-singular basis
  while (rows.length < 9) rows.push([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const svd = new SVD(new Matrix(rows), { computeLeftSingularVectors: false, computeRightSingularVectors: true, autoTranspose: false });
  const sv = svd.diagonal;
  const smallest = sv[8]!, next = sv[7]!;
  if (!(next > 1e-9 * sv[0]!) || next - smallest < 1e-12) throw new DegenerateCalibration("the point pairs do not determine a unique homography");
  const V = svd.rightSingularVectors;
  const hn = new Matrix([[V.get(0, 8), V.get(1, 8), V.get(2, 8)], [V.get(3, 8), V.get(4, 8), V.get(5, 8)], [V.get(6, 8), V.get(7, 8), V.get(8, 8)]]);
  // denormalise: H = T_to^-1 * Hn * T_from
  const H = new SVD(nt.T).inverse().mmul(hn).mmul(nf.T).to1DArray();
  const s = H[8]!;
  if (Math.abs(s) < 1e-15) throw new DegenerateCalibration("the fitted homography maps the image origin to infinity");
  let out: Homography = { h: H.map((v) => v / s) };
  // orientation: calibration points must map with w > 0
  const w = (p: Point) => out.h[6]! * p[0] + out.h[7]! * p[1] + out.h[8]!;
  if (from.every((p) => w(p) < 0)) out = { h: out.h.map((v) => -v) };
  if (!from.every((p) => w(p) > 0)) throw new DegenerateCalibration("the calibration points lie on both sides of the horizon");
  return out;
}

/** Root-mean-square distance (in `to` units) between the mapped `from` points and the `to` points. */
export function reprojectionError(H: Homography, from: readonly Point[], to: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i < from.length; i++) {
    const p = applyHomography(H, from[i]!);
    if (!p) return Number.POSITIVE_INFINITY;
    sum += (p[0] - to[i]![0]) ** 2 + (p[1] - to[i]![1]) ** 2;
  }
  return Math.sqrt(sum / from.length);
}
