import type { Point } from "../contracts/geometry.ts";

/**
 * A pinhole camera for the simulated mall: mounted at (x, y) on the floor plan at `heightM`
 * above the floor, looking along `yawRad` (floor-plan angle from +x towards +y) and tilted
 * `tiltRad` below the horizontal, with focal length `focalPx` and principal point at the image
 * centre. The floor is the plane z = 0 (metres); image pixels have u to the right and v down.
 *
 * Floor -> image through this model is an exact plane projection, so the homography fitted from
 * a calibration made with it (topology/geometry/homography.ts) is the inverse of `floorToImage`
 * up to the noise of the calibration points.
 */
export interface CameraPose {
  x: number;
  y: number;
  heightM: number;
  yawRad: number;
  tiltRad: number;
  focalPx: number;
  width: number;
  height: number;
  /** people farther than this on the floor (from the point below the camera) are too small to detect */
  maxRangeM: number;
}

/** A 3-D point in floor-plan metres, z up. */
export type Point3 = [number, number, number];

/** Where a standing person renders: the box [x1, y1, x2, y2] (clipped to the image), the feet pixel and the depth. */
export interface RenderedPerson {
  box: [number, number, number, number];
  feet: Point;
  /** distance along the optical axis (m): smaller is nearer */
  depth: number;
}

/** Shoulder width used for person boxes (m). */
export const PERSON_WIDTH_M = 0.45;

/** Points nearer than this along the optical axis count as behind the camera. */
const MIN_DEPTH_M = 0.3;

/** The camera's axes, pre-computed: forward, right (image u) and down (image v). */
export class CameraModel {
  private readonly fx: number; private readonly fy: number; private readonly fz: number;
  private readonly rx: number; private readonly ry: number;
  private readonly dx: number; private readonly dy: number; private readonly dz: number;
  private readonly cx: number; private readonly cy: number;

  constructor(readonly pose: CameraPose) {
    const { yawRad: yaw, tiltRad: tilt } = pose;
    if (!(pose.heightM > 0)) throw new RangeError("camera height must be positive");
    if (!(pose.focalPx > 0) || !(pose.width > 0) || !(pose.height > 0)) throw new RangeError("focal length and image size must be positive");
    this.fx = Math.cos(yaw) * Math.cos(tilt);
    this.fy = Math.sin(yaw) * Math.cos(tilt);
    this.fz = -Math.sin(tilt);
    this.rx = Math.sin(yaw);
    this.ry = -Math.cos(yaw);
    // down = forward x right
    this.dx = this.fy * 0 - this.fz * this.ry;
    this.dy = this.fz * this.rx - this.fx * 0;
    this.dz = this.fx * this.ry - this.fy * this.rx;
    this.cx = pose.width / 2;
    this.cy = pose.height / 2;
  }

  /** Depth along the optical axis of a 3-D point (m); <= 0 behind the camera. */
  depthOf(p: Point3): number {
    return (p[0] - this.pose.x) * this.fx + (p[1] - this.pose.y) * this.fy + (p[2] - this.pose.heightM) * this.fz;
  }

  /** Image pixel of a 3-D point, or undefined when it is (nearly) behind the camera. Not clipped to the image. */
  project(p: Point3): Point | undefined {
    const vx = p[0] - this.pose.x, vy = p[1] - this.pose.y, vz = p[2] - this.pose.heightM;
    const zc = vx * this.fx + vy * this.fy + vz * this.fz;
    if (!(zc > MIN_DEPTH_M)) return undefined;
    const xc = vx * this.rx + vy * this.ry;
    const yc = vx * this.dx + vy * this.dy + vz * this.dz;
    return [this.cx + (this.pose.focalPx * xc) / zc, this.cy + (this.pose.focalPx * yc) / zc];
  }

  /** Image pixel of a floor point. */
  floorToImage(p: Point): Point | undefined {
    return this.project([p[0], p[1], 0]);
  }

  /** The floor point an image pixel shows, or undefined when its ray does not reach the floor. */
  imageToFloor(px: Point): Point | undefined {
    const a = (px[0] - this.cx) / this.pose.focalPx;
    const b = (px[1] - this.cy) / this.pose.focalPx;
    const rz = this.fz + b * this.dz; // right vector has no z
    if (!(rz < -1e-9)) return undefined;
    const t = this.pose.heightM / -rz;
    return [this.pose.x + t * (this.fx + a * this.rx + b * this.dx), this.pose.y + t * (this.fy + a * this.ry + b * this.dy)];
  }

  /** Whether a pixel lies inside the image. */
  inImage(px: Point): boolean {
    return px[0] >= 0 && px[0] <= this.pose.width && px[1] >= 0 && px[1] <= this.pose.height;
  }

  /** Floor distance from the point below the camera. */
  rangeOf(p: Point): number {
    return Math.hypot(p[0] - this.pose.x, p[1] - this.pose.y);
  }

  /**
   * Whether the camera can see a person standing at p (ignoring walls: the caller restricts to
   * the spaces the camera looks into): within range, feet in front of the camera and inside
   * the image (a detector needs the feet to place the person; the head may be cut off).
   */
  seesFloorPoint(p: Point): boolean {
    if (this.rangeOf(p) > this.pose.maxRangeM) return false;
    const f = this.floorToImage(p);
    return f !== undefined && this.inImage(f);
  }

  /**
   * The box of a person standing at p with the given height: from the head to the feet
   * vertically, and horizontally centred on the feet pixel with the wider of the person's
   * (PERSON_WIDTH_M) widths at head and feet level, so that the box's bottom centre is where the
   * person stands (what the tracker assumes). Clipped to the image; undefined when the feet are
   * not visible (see seesFloorPoint) or the clipped box is degenerate.
   */
  renderPerson(p: Point, heightM: number, widthM = PERSON_WIDTH_M): RenderedPerson | undefined {
    if (this.rangeOf(p) > this.pose.maxRangeM) return undefined;
    const feet = this.floorToImage(p);
    if (!feet || !this.inImage(feet)) return undefined;
    const depth = this.depthOf([p[0], p[1], 0]);
    const headDepth = this.depthOf([p[0], p[1], heightM]);
    const head = this.project([p[0], p[1], heightM]);
    // a head behind the camera (someone right below it) runs off the top of the image
    const top = head && head[1] < feet[1] ? head[1] : 0;
    const halfW = (this.pose.focalPx * widthM) / 2 / Math.min(depth, headDepth > MIN_DEPTH_M ? headDepth : depth);
    const box: [number, number, number, number] = [
      Math.max(0, feet[0] - halfW), Math.max(0, top), Math.min(this.pose.width, feet[0] + halfW), Math.min(this.pose.height, feet[1]),
    ];
    if (box[2] - box[0] < 2 || box[3] - box[1] < 2) return undefined;
    return { box, feet, depth };
  }
}

/** Degrees to radians (plans are easier to read in degrees). */
export const deg = (d: number) => (d * Math.PI) / 180;
