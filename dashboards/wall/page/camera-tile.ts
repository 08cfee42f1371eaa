import type { TrackUpdate } from "../../../contracts/events.ts";
import { h, s, setAttr, setText, clear } from "./dom.ts";
import { clock } from "./format.ts";

/**
 * The camera tile: the newest still of a camera running footfall's camera agent, with the boxes
 * and track ids of its newest track.update drawn over it (image pixels), as an NVR shows them.
 */
export class CameraTile {
  readonly root: HTMLElement;
  private readonly img: HTMLImageElement;
  private readonly overlay: SVGSVGElement;
  private readonly caption: HTMLDivElement;
  private readonly name: HTMLSpanElement;
  private url: string | undefined;
  private size: { w: number; h: number } | undefined;
  private frame: { w: number; h: number } | null = null;
  camera: string | undefined;
  private stillAt: number | null = null;

  constructor() {
    this.img = h("img", { alt: "" });
    this.overlay = s("svg", { preserveAspectRatio: "xMidYMid meet", "aria-hidden": "true" });
    this.caption = h("div", { class: "caption", "data-role": "caption" });
    this.name = h("span", { class: "aside", "data-role": "camera" });
    this.root = h("section", { class: "panel camera-panel", "data-testid": "camera-tile", hidden: true },
      h("h2", {}, "Camera", this.name),
      h("div", { class: "still" }, this.img, this.overlay),
      this.caption,
    );
    this.img.addEventListener("load", () => {
      this.size = this.frame ?? { w: this.img.naturalWidth, h: this.img.naturalHeight };
      setAttr(this.overlay, "viewBox", `0 0 ${this.size.w} ${this.size.h}`);
    });
  }

  /**
   * Shows a new still (the previous object URL is released once replaced). `frame`: the camera
   * frame's size, the space the track boxes are in (the JPEG may be scaled down); without it the
   * JPEG's own size.
   */
  showStill(camera: string, url: string, at: number | null, frame: { w: number; h: number } | null = null): void {
    if (this.camera !== camera) clear(this.overlay);
    this.camera = camera;
    this.frame = frame;
    if (frame) setAttr(this.overlay, "viewBox", `0 0 ${frame.w} ${frame.h}`);
    this.stillAt = at;
    const old = this.url;
    this.url = url;
    this.img.src = url;
    if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
    setText(this.name, camera);
    this.root.hidden = false;
  }

  hide(): void {
    this.root.hidden = true;
    this.camera = undefined;
  }

  /** Boxes and track ids of the camera's newest track update. */
  drawTracks(t: TrackUpdate | undefined): void {
    clear(this.overlay);
    const boxes = t?.boxes ?? [];
    const fh = Math.max(12, (this.size?.h ?? 576) * 0.06);
    for (const [tid, x1, y1, x2, y2] of boxes) {
      // track ids are "{camera}:{n}": the tile already names the camera
      const short = tid.includes(":") ? `#${tid.slice(tid.lastIndexOf(":") + 1)}` : tid;
      const label = short.length > 10 ? short.slice(-10) : short;
      const lw = label.length * fh * 0.62 + fh * 0.5;
      this.overlay.append(
        s("rect", { class: "box", x: x1, y: y1, width: Math.max(1, x2 - x1), height: Math.max(1, y2 - y1) }),
        s("rect", { class: "tid-bg", x: x1, y: Math.max(0, y1 - fh * 1.25), width: lw, height: fh * 1.25 }),
        s("text", { class: "tid", x: x1 + fh * 0.25, y: Math.max(fh, y1 - fh * 0.28), "font-size": fh }, label),
      );
    }
    const parts = [this.stillAt === null ? "still" : `still ${clock(this.stillAt)}`];
    if (t) parts.push(`${boxes.length} ${boxes.length === 1 ? "track" : "tracks"} at ${clock(t.frameTs)}`);
    setText(this.caption, parts.join(" · "));
  }
}
