import { Router } from "express";
import { z } from "zod";
import { siteGeometry } from "../../topology/site-geometry.ts";
import { parseQueryTime } from "../../contracts/time.ts";
import { badRequest, fromService, parseOr400 } from "../http/api-error.ts";
import { requireSpacePath, siteTopology, type TrackContext } from "./track-context.ts";
import { resolveRange, text, time, token } from "./track-filters.ts";
import { MEASUREMENT_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import { defaultStep, formatStep, MAX_SERIES_POINTS, parseStep, type SeriesRange } from "../http/time-range.ts";

/**
 * Camera-based zone figures (zone actors' series; zone-reader.ts):
 *   GET /sites/{site}/zones/{space}/occupancy[?at]         count during the second holding `at` (default now)
 *   GET /sites/{site}/zones/{space}/occupancy?from&to&step the count at from, from+step, ... <= to
 *   GET /sites/{site}/zones/{space}/camera-vs-dpu?from&to&step
 *       camera count, DPU count (occupancy: last point at or before t) and camera - dpu at each instant
 *   GET /sites/{site}/lines?from&to                        in/out per counting line within [from, to]
 * from defaults to to - 24 h, to to now; at most 10,000 points; instants older than the raw
 * retention are refused (410).
 */

const step = text("step").regex(/^[1-9]\d{0,5}[smhd]$/, "step must be a number and s, m, h or d (e.g. 10s, 1m, 1h)");
const OccupancyParams = z.strictObject({ at: time("at").optional(), from: time("from").optional(), to: time("to").optional(), step: step.optional() });
const SeriesParams = z.strictObject({ from: time("from").optional(), to: time("to").optional(), step: step.optional() });
const RangeParams = z.strictObject({ from: time("from").optional(), to: time("to").optional() });
const Path = z.object({ site: token("site"), space: token("space").optional() });

function seriesRange(p: { from?: string | undefined; to?: string | undefined; step?: string | undefined }, now: number): SeriesRange {
  const { from, to } = resolveRange(p.from, p.to, now);
  const s = p.step === undefined ? defaultStep(to - from) : parseStep(p.step)!;
  const points = Math.floor((to - from) / s) + 1;
  if (points > MAX_SERIES_POINTS) {
    throw badRequest(`invalid query: from..to at step ${formatStep(s)} gives ${points} points; at most ${MAX_SERIES_POINTS} (use a larger step)`);
  }
  return { from, to, step: s, points };
}

const boundaries = (r: SeriesRange) => Array.from({ length: r.points }, (_, k) => r.from + k * r.step);
const iso = (ms: number) => new Date(ms).toISOString();

export function zoneRoutes(ctx: TrackContext): Router {
  const router = Router();

  async function zoneOf(params: unknown) {
    const p = parseOr400(Path, params, "path");
    const topo = await siteTopology(ctx, p.site);
    requireSpacePath(topo, p.space!);
    return { site: p.site, space: p.space! };
  }

  router.get("/sites/:site/zones/:space/occupancy", async (req, res) => {
    const now = Date.now();
    const p = parseOr400(OccupancyParams, req.query, "query");
    const { site, space } = await zoneOf(req.params);
    if (p.at !== undefined && (p.from !== undefined || p.to !== undefined || p.step !== undefined)) {
      throw badRequest("invalid query: give either at, or from/to/step");
    }
    if (p.from === undefined && p.to === undefined && p.step === undefined) {
      const at = p.at === undefined ? now : parseQueryTime(p.at, now)!;
      ctx.retention.check(at, now, "at");
      const count = await fromService("InfluxDB", ctx.zones.countAt(site, space, at));
      res.json({ site, space, at: iso(at), count, source: "camera" });
      return;
    }
    const r = seriesRange(p, now);
    ctx.retention.check(r.from, now);
    const at = boundaries(r);
    const counts = await fromService("InfluxDB", ctx.zones.countsAt(site, space, at));
    res.json({ site, space, from: iso(r.from), to: iso(r.to), step: formatStep(r.step), source: "camera", points: at.map((t, i) => ({ t: iso(t), count: counts[i]! })) });
  });

  router.get("/sites/:site/zones/:space/camera-vs-dpu", async (req, res) => {
    const now = Date.now();
    const p = parseOr400(SeriesParams, req.query, "query");
    const { site, space } = await zoneOf(req.params);
    const r = seriesRange(p, now);
    ctx.retention.check(r.from, now);
    const at = boundaries(r);
    const [camera, dpu] = await fromService("InfluxDB", Promise.all([
      ctx.zones.countsAt(site, space, at),
      ctx.occupancy.series({ measurement: MEASUREMENT_OCCUPANCY, site, space }, r),
    ]));
    let sumAbs = 0, maxAbs = 0;
    const points = at.map((t, i) => {
      const c = camera[i]!;
      const d = dpu[i]?.count ?? 0;
      sumAbs += Math.abs(c - d);
      maxAbs = Math.max(maxAbs, Math.abs(c - d));
      return { t: iso(t), camera: c, dpu: d, difference: c - d };
    });
    res.json({
      site, space, from: iso(r.from), to: iso(r.to), step: formatStep(r.step),
      mean_abs_difference: points.length ? sumAbs / points.length : 0, max_abs_difference: maxAbs, points,
    });
  });

  router.get("/sites/:site/lines", async (req, res) => {
    const now = Date.now();
    const p = parseOr400(RangeParams, req.query, "query");
    const site = parseOr400(Path, req.params, "path").site;
    const topo = await siteTopology(ctx, site);
    const { from, to } = resolveRange(p.from, p.to, now);
    ctx.retention.check(from, now);
    const counted = await fromService("InfluxDB", ctx.zones.lines(site, from, to));
    const known = siteGeometry(topo).lines;
    const out = new Map<string, { line: string; space: string | null; camera: string | null; in: number; out: number }>();
    for (const l of known) out.set(`${l.id}|${l.space ?? ""}`, { line: l.id, space: l.space ?? null, camera: l.camera, in: 0, out: 0 });
    for (const c of counted) {
      const key = `${c.line}|${c.space}`;
      const e = out.get(key) ?? { line: c.line, space: c.space, camera: known.find((l) => l.id === c.line)?.camera ?? null, in: 0, out: 0 };
      e.in += c.in;
      e.out += c.out;
      out.set(key, e);
    }
    const lines = [...out.values()].sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
    res.json({ site, from: iso(from), to: iso(to), lines });
  });

  return router;
}
