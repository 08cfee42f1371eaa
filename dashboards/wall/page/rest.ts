import { z } from "zod";
import { WallPlan, WallStills } from "../../../contracts/wall.ts";
import type { UsualHour } from "./series.ts";

/**
 * What the wall reads over HTTP (same origin; the browser sends the HttpOnly `ff_key` cookie):
 * the shapes are those of api/openapi.yaml, read leniently (fields the wall does not use are
 * ignored). Routes that do not exist yet (404) or fail leave their panel showing "—".
 */
const Iso = z.string().transform((s, ctx) => {
  const t = Date.parse(s);
  if (!Number.isFinite(t)) { ctx.addIssue({ code: "custom", message: "not a time" }); return z.NEVER; }
  return t;
});
/** an instant as RFC 3339 text or epoch ms */
const Instant = z.union([z.number(), Iso]);

export const CountBody = z.object({ count: z.number(), at: Iso });
export const SeriesBody = z.object({ points: z.array(z.object({ t: Iso, count: z.number() })) });
export const CamerasBody = z.object({
  cameras: z.array(z.object({ camera: z.string(), state: z.string(), last_seen: z.string().nullable() })),
});
export const CameraVsDpuBody = z.object({
  mean_abs_difference: z.number(),
  points: z.array(z.object({ t: Iso, camera: z.number(), dpu: z.number(), difference: z.number() })),
});
export const FlowBody = z.object({ in: z.number(), out: z.number() });

const Attr = z.object({ value: z.string(), conf: z.number() });
export const PathItem = z.object({
  person: z.string(),
  start: Iso,
  end: Iso,
  distance_m: z.number(),
  attributes: z.record(z.string(), Attr),
  path: z.array(z.tuple([z.number(), z.number(), z.number()])),
  visits: z.array(z.object({ space: z.string(), enter: Iso, leave: Iso })),
  ended: z.boolean(),
});
export type PathItem = z.infer<typeof PathItem>;
export const PathsBody = z.object({ count: z.number(), items: z.array(PathItem), next_cursor: z.string().nullable() });
export const ReprocessingBody = z.object({ href: z.string(), attribute: z.string(), status: z.string() });
export const JobBody = z.object({ state: z.string(), progress: z.object({ done: z.number(), total: z.number() }).optional(), error: z.string().optional() });
const Stat = z.number().nullable();
export const DistanceBody = z.object({ count: z.number(), mean_m: Stat, median_m: Stat, p90_m: Stat });
export const DwellBody = z.object({ count: z.number(), mean_s: Stat, median_s: Stat, p90_s: Stat });

/** GET /sites/{site}/usual: per hour the median and p10-p90 of past same weekdays (field names read leniently). */
export function parseUsual(body: unknown): { hours: UsualHour[]; weeks: number | null } | undefined {
  if (!body || typeof body !== "object") return undefined;
  const o = body as Record<string, unknown>;
  const list = [o.hours, o.points, o.items, o.usual, o.series].find(Array.isArray) as unknown[] | undefined;
  if (!list) return undefined;
  const hours: UsualHour[] = [];
  for (const raw of list) {
    if (!raw || typeof raw !== "object") continue;
    const r = raw as Record<string, unknown>;
    const t = Instant.safeParse(r.t ?? r.hour ?? r.from ?? r.start ?? r.at);
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    const median = num(r.median), p10 = num(r.p10), p90 = num(r.p90);
    if (!t.success || median === undefined) continue;
    hours.push({ t: t.data, median, p10: p10 ?? median, p90: p90 ?? median });
  }
  const weeks = typeof o.weeks === "number" ? o.weeks : Array.isArray(o.weeks) ? o.weeks.length : null;
  return { hours: hours.sort((a, b) => a.t - b.t), weeks };
}

export type Result<T> = { ok: true; data: T; status: number } | { ok: false; status: number; reason: string };

const TIMEOUT_MS = 15_000;

/** The REST calls of one site's wall. */
export class Rest {
  readonly api: string;
  constructor(readonly site: string, private readonly origin = "") {
    this.api = `${origin}/api/v1`;
  }

  private async request(url: string): Promise<Response | { error: string }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      return await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { accept: "application/json" }, signal: abort.signal });
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** GET a JSON body and parse it (a 2xx with a body the schema refuses is a failure too). */
  async json<T>(url: string, parse: (body: unknown) => T | undefined): Promise<Result<T>> {
    const r = await this.request(url);
    if ("error" in r) return { ok: false, status: 0, reason: r.error };
    let body: unknown;
    try { body = await r.json(); } catch { body = undefined; }
    if (!r.ok) {
      const reason = body && typeof body === "object" && typeof (body as { reason?: unknown }).reason === "string" ? (body as { reason: string }).reason : `HTTP ${r.status}`;
      return { ok: false, status: r.status, reason };
    }
    const data = parse(body);
    return data === undefined ? { ok: false, status: r.status, reason: "unexpected answer" } : { ok: true, data, status: r.status };
  }

  private schema<S extends z.ZodType>(s: S) {
    return (body: unknown): z.output<S> | undefined => {
      const r = s.safeParse(body);
      return r.success ? r.data : undefined;
    };
  }

  private site_(p: string) {
    return `${this.api}/sites/${encodeURIComponent(this.site)}${p}`;
  }

  plan() {
    return this.json(`${this.origin}/wall/${encodeURIComponent(this.site)}/plan.json`, this.schema(WallPlan));
  }
  /** the cameras that have a still now */
  stills() {
    return this.json(`${this.origin}/wall/${encodeURIComponent(this.site)}/stills.json`, this.schema(WallStills));
  }
  siteCount(at?: number) {
    return this.json(this.site_(`/count${at === undefined ? "" : `?at=${Math.round(at)}`}`), this.schema(CountBody));
  }
  spaceCount(space: string, at?: number) {
    return this.json(this.site_(`/spaces/${encodeURIComponent(space)}/count${at === undefined ? "" : `?at=${Math.round(at)}`}`), this.schema(CountBody));
  }
  spaceSeries(space: string, from: number, to: number, step: string) {
    return this.json(this.site_(`/spaces/${encodeURIComponent(space)}/series?from=${Math.round(from)}&to=${Math.round(to)}&step=${step}`), this.schema(SeriesBody));
  }
  zoneCount(space: string, at?: number) {
    return this.json(this.site_(`/zones/${encodeURIComponent(space)}/occupancy${at === undefined ? "" : `?at=${Math.round(at)}`}`), this.schema(CountBody));
  }
  zoneSeries(space: string, from: number, to: number, step: string) {
    return this.json(this.site_(`/zones/${encodeURIComponent(space)}/occupancy?from=${Math.round(from)}&to=${Math.round(to)}&step=${step}`), this.schema(SeriesBody));
  }
  cameraVsDpu(space: string, from: number, to: number, step: string) {
    return this.json(this.site_(`/zones/${encodeURIComponent(space)}/camera-vs-dpu?from=${Math.round(from)}&to=${Math.round(to)}&step=${step}`), this.schema(CameraVsDpuBody));
  }
  cameras() {
    return this.json(this.site_(`/cameras`), this.schema(CamerasBody));
  }
  flow(from: number, to: number) {
    return this.json(this.site_(`/flow?from=${Math.round(from)}&to=${Math.round(to)}`), this.schema(FlowBody));
  }
  usual(from: number, to: number, space?: string) {
    return this.json(this.site_(`/usual?from=${Math.round(from)}&to=${Math.round(to)}${space ? `&space=${encodeURIComponent(space)}` : ""}`), parseUsual);
  }
  /** /paths: 200 a page of persons, 202 a reprocessing job to wait for */
  paths(query: URLSearchParams) {
    return this.json(`${this.api}/paths?${this.withSite(query)}`, (b) => {
      const page = PathsBody.safeParse(b);
      if (page.success) return { kind: "page" as const, page: page.data };
      const job = ReprocessingBody.safeParse(b);
      return job.success ? { kind: "job" as const, job: job.data } : undefined;
    });
  }
  distance(query: URLSearchParams) {
    return this.json(`${this.api}/stats/distance?${this.withSite(query)}`, (b) => {
      const r = DistanceBody.safeParse(b);
      return r.success ? r.data : ReprocessingBody.safeParse(b).success ? null : undefined;
    });
  }
  dwell(space: string, from: number, to: number) {
    return this.json(`${this.api}/stats/dwell?site=${encodeURIComponent(this.site)}&space=${encodeURIComponent(space)}&from=${Math.round(from)}&to=${Math.round(to)}`, this.schema(DwellBody));
  }
  job(href: string) {
    // only our own API's job links
    const path = href.startsWith("/api/v1/jobs/") ? href : `/api/v1/jobs/${encodeURIComponent(href)}`;
    return this.json(`${this.origin}${path}`, this.schema(JobBody));
  }

  private withSite(q: URLSearchParams): string {
    const p = new URLSearchParams(q);
    p.set("site", this.site);
    return p.toString();
  }

  /**
   * The newest still of a camera: an object URL of the JPEG and the instant it shows (X-Still-At),
   * or `none` (404: no still kept, or the route does not exist; 204 likewise).
   */
  async still(camera: string): Promise<{ kind: "still"; url: string; at: number | null; frame: { w: number; h: number } | null } | { kind: "none" } | { kind: "error"; reason: string }> {
    const r = await this.request(this.site_(`/cameras/${encodeURIComponent(camera)}/still`));
    if ("error" in r) return { kind: "error", reason: r.error };
    if (r.status === 404 || r.status === 204) return { kind: "none" };
    if (!r.ok || !(r.headers.get("content-type") ?? "").startsWith("image/")) return { kind: "error", reason: `HTTP ${r.status}` };
    const at = Instant.safeParse(((h) => (h !== null && /^\d+$/.test(h) ? Number(h) : h))(r.headers.get("x-still-at")));
    // the camera frame's size: the space its detection boxes are in (the JPEG may be smaller)
    const w = Number(r.headers.get("x-still-frame-width")), h = Number(r.headers.get("x-still-frame-height"));
    const frame = Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 ? { w, h } : null;
    return { kind: "still", url: URL.createObjectURL(await r.blob()), at: at.success ? at.data : null, frame };
  }
}
