/**
 * A cheap motion gate in front of the detector, so still scenes cost little.
 *
 * Each frame is reduced to a small grey image (box average over a grid of about `gridWidth`
 * cells across, same cell size down; grey = (R + 2G + B) / 4) and compared with the small image
 * of the last frame that PASSED the gate (not the previous frame, so slow change accumulates
 * until it is seen). A cell has changed when its grey level differs by more than `cellDelta`;
 * the frame passes when the changed fraction of cells is above `threshold`, or when `maxSkip`
 * frames in a row have been held back (so very slow change, or a change below the threshold,
 * is still looked at now and then). The first frame always passes.
 *
 * Pure logic: no I/O, no clock. Cost is one pass over the frame's bytes.
 */

export interface MotionGateOptions {
  /** cells across the small grey image (default 64) */
  gridWidth?: number;
  /** grey level difference (0-255) above which a cell counts as changed (default 16) */
  cellDelta?: number;
  /** fraction of changed cells above which a frame passes (default 0.005) */
  threshold?: number;
  /** after this many held-back frames in a row the next one passes anyway (default 10) */
  maxSkip?: number;
}

export type GateReason = "first" | "motion" | "max-skip" | "still" | "size-change";

export interface GateDecision {
  pass: boolean;
  /** fraction of cells that changed against the last passed frame (1 for the first frame) */
  changed: number;
  reason: GateReason;
}

export class MotionGate {
  readonly gridWidth: number;
  readonly cellDelta: number;
  readonly threshold: number;
  readonly maxSkip: number;
  private reference: Float32Array | undefined;
  private refSize = "";
  private skipped = 0;
  private passedCount = 0;
  private seenCount = 0;

  constructor(opts: MotionGateOptions = {}) {
    this.gridWidth = opts.gridWidth ?? 64;
    this.cellDelta = opts.cellDelta ?? 16;
    this.threshold = opts.threshold ?? 0.005;
    this.maxSkip = opts.maxSkip ?? 10;
    if (!(Number.isInteger(this.gridWidth) && this.gridWidth >= 1)) throw new Error(`gridWidth must be an integer ≥ 1`);
    if (!(this.threshold >= 0 && this.threshold <= 1)) throw new Error(`threshold must be within 0..1`);
    if (!(Number.isInteger(this.maxSkip) && this.maxSkip >= 0)) throw new Error(`maxSkip must be an integer ≥ 0`);
  }

  /** frames seen / passed so far */
  get stats(): { seen: number; passed: number } {
    return { seen: this.seenCount, passed: this.passedCount };
  }

  /** Decides on one RGB24 frame; a passing frame becomes the new reference. */
  check(rgb: Uint8Array, width: number, height: number): GateDecision {
    this.seenCount++;
    const small = greyGrid(rgb, width, height, this.gridWidth);
    const size = `${width}x${height}`;
    const pass = (changed: number, reason: GateReason): GateDecision => {
      this.reference = small;
      this.refSize = size;
      this.skipped = 0;
      this.passedCount++;
      return { pass: true, changed, reason };
    };
    if (!this.reference) return pass(1, "first");
    if (this.refSize !== size) return pass(1, "size-change");
    const ref = this.reference;
    let changedCells = 0;
    for (let i = 0; i < small.length; i++) if (Math.abs(small[i]! - ref[i]!) > this.cellDelta) changedCells++;
    const changed = changedCells / small.length;
    if (changed > this.threshold) return pass(changed, "motion");
    if (this.skipped >= this.maxSkip) return pass(changed, "max-skip");
    this.skipped++;
    return { pass: false, changed, reason: "still" };
  }

  /** forgets the reference: the next frame passes */
  reset(): void {
    this.reference = undefined;
    this.skipped = 0;
  }
}

/** Box-averaged grey image of about `gridWidth` square cells across (the last row/column of cells may be partial). */
export function greyGrid(rgb: Uint8Array, width: number, height: number, gridWidth: number): Float32Array {
  if (rgb.length < width * height * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${width * height * 3}`);
  const cell = Math.max(1, Math.ceil(width / gridWidth));
  const gw = Math.ceil(width / cell);
  const gh = Math.ceil(height / cell);
  const sums = new Float32Array(gw * gh);
  const counts = new Uint32Array(gw * gh);
  for (let y = 0; y < height; y++) {
    const rowCell = ((y / cell) | 0) * gw;
    let p = y * width * 3;
    for (let x = 0; x < width; x++, p += 3) {
      const c = rowCell + ((x / cell) | 0);
      sums[c]! += (rgb[p]! + 2 * rgb[p + 1]! + rgb[p + 2]!) * 0.25;
      counts[c]!++;
    }
  }
  for (let i = 0; i < sums.length; i++) sums[i] = sums[i]! / counts[i]!;
  return sums;
}
