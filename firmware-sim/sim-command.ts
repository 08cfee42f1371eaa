import fs from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import { z } from "zod";
import { SiteId } from "../contracts/ids.ts";
import type { Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { readCaFile, trustOnlyForFetch } from "../infra/tls.ts";
import { demoMall, planSecrets, toTopologyDoc, type BuildingPlan } from "./building.ts";
import { runBuildingSim } from "./building-run.ts";
import { BrokerList } from "../edge/broker-list.ts";

/** `footfall sim` options as the CLI hands them over (validated here). */
export const SimCommandOptions = z.strictObject({
  apiUrl: z.string().url("--api must be a URL"),
  mqttUrl: z.string().pipe(BrokerList.transform((l) => l.join(","))),
  /** PEM CA file the API's and the broker's certificates must verify against (https://, mqtts://) */
  ca: z.string().min(1).optional(),
  site: SiteId,
  walkers: z.number().int("--walkers must be a whole number").min(1).max(100_000),
  minutes: z.number().positive("--minutes must be positive").max(24 * 60),
  duplicateRate: z.number().min(0, "--duplicates must be 0..1").max(1, "--duplicates must be 0..1"),
  maxSkewMs: z.number().int("--skew must be whole ms").min(0).max(60_000),
  seed: z.number().int("--seed must be an integer"),
  outage: z.string().regex(/^[A-Za-z0-9_-]{1,64}:\d+(\.\d+)?-\d+(\.\d+)?$/, "--outage must look like dpu-main-entrance:2-5 (minutes)").optional(),
});
export type SimCommandOptions = z.input<typeof SimCommandOptions>;

const CountBody = z.object({ count: z.number().int() });

async function countFrom(url: string, token: string): Promise<number> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
  return CountBody.parse(await r.json()).count;
}

/** Every count the check compares: each space's and the site's, at instant t (undefined = now). */
async function countsOf(apiUrl: string, token: string, plan: BuildingPlan, t?: number): Promise<Record<string, number>> {
  const at = t === undefined ? "" : `?at=${new Date(t).toISOString()}`;
  const base = `${apiUrl}/api/v1/sites/${plan.site}`;
  const out: Record<string, number> = {};
  for (const s of plan.spaces) out[s.id] = await countFrom(`${base}/spaces/${s.id}/count${at}`, token);
  out["(site)"] = await countFrom(`${base}/count${at}`, token);
  return out;
}

/**
 * `footfall sim`: registers the demo mall under `site` (fresh DPU secrets), plays walkers through
 * it over MQTT faster than real time (duplicates, clock skew, optionally one DPU's outage), then
 * compares every space's count and the site's at 20 sampled instants with ground truth.
 * Returns whether everything matched.
 */
export async function runSimCommand(cfg: Config, raw: SimCommandOptions): Promise<boolean> {
  const parsed = SimCommandOptions.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) console.error(`footfall sim: ${i.path.join(".")}: ${i.message}`);
    return false;
  }
  const o = parsed.data;
  const log = createLogger("footfall-sim", ["debug", "trace"].includes(cfg.logLevel) ? cfg.logLevel : "warn");
  // device ids are unique across the installation: scope them to the site, so a simulated
  // site can live beside the demo mall and other simulated sites
  const plan = demoMall(o.site, { siteScopedDpus: true });
  let outage: { device: string; fromMs: number; toMs: number } | undefined;
  if (o.outage) {
    const [named, range] = o.outage.split(":") as [string, string];
    const [from, to] = range.split("-").map(Number) as [number, number];
    // "dpu-main-entrance" names the site's DPU over doorway main-entrance
    const device = plan.dpus.find((d) => d.id === named || `dpu-${d.doorway}` === named)?.id ?? named;
    if (!plan.dpus.some((d) => d.id === device)) {
      console.error(`footfall sim: --outage: no dpu "${device}"; the DPUs are ${plan.dpus.map((d) => d.id).join(", ")}`);
      return false;
    }
    if (!(to > from)) { console.error("footfall sim: --outage: the range must end after it starts"); return false; }
    outage = { device, fromMs: from * 60_000, toMs: to * 60_000 };
  }

  let ca: Buffer | undefined;
  if (o.ca) {
    try { ca = readCaFile(o.ca); } catch (e) { console.error(`footfall sim: --ca: ${(e as Error).message}`); return false; }
    trustOnlyForFetch(ca);
  }

  const secrets = planSecrets(plan);
  const put = await fetch(`${o.apiUrl}/api/v1/sites/${o.site}/topology`, {
    method: "PUT",
    headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(toTopologyDoc(plan, secrets)),
  }).catch((e: Error) => e);
  if (put instanceof Error || put.status !== 200) {
    console.error(`footfall sim: could not register site "${o.site}" at ${o.apiUrl}: ${put instanceof Error ? put.message : `HTTP ${put.status} ${await put.text()}`}`);
    return false;
  }

  // simulated time ends a minute ago: every instant checked is in the past
  const durationMs = Math.round(o.minutes * 60_000);
  const startTs = Date.now() - durationMs - 60_000;
  // earlier runs on this site may have left people inside: they are the baseline, provided
  // nothing of theirs falls inside this run's window
  const baseline = await countsOf(o.apiUrl, cfg.adminToken, plan, startTs - 1);
  const current = await countsOf(o.apiUrl, cfg.adminToken, plan);
  const moved = Object.keys(baseline).filter((k) => baseline[k] !== current[k]);
  if (moved.length > 0) {
    console.error(`footfall sim: site "${o.site}" already has crossings after ${new Date(startTs).toISOString()} (${moved.join(", ")}); use another --site or wait ${o.minutes + 1} minutes`);
    return false;
  }

  const dataDir = path.join(cfg.dataDir, "sim", o.site);
  fs.rmSync(dataDir, { recursive: true, force: true }); // buffers of an earlier run belong to its old secrets
  fs.mkdirSync(dataDir, { recursive: true });
  const bar = new cliProgress.SingleBar({ format: "  crossings {bar} {value}/{total}", hideCursor: true }, cliProgress.Presets.shades_classic);
  let barStarted = false;
  console.log(`footfall sim: ${o.walkers} walkers, ${o.minutes} simulated minutes in site "${o.site}" (${plan.spaces.length} spaces, ${plan.dpus.length} DPUs)`);
  let result;
  try {
    result = await runBuildingSim({
      mqttUrl: o.mqttUrl, ...(ca ? { mqttCa: ca } : {}), plan, secrets, walkers: o.walkers, durationMs, startTs, seed: o.seed,
      duplicateRate: o.duplicateRate, maxSkewMs: o.maxSkewMs, dataDir, log,
      ...(outage ? { outage } : {}),
      onProgress: (done, total) => {
        if (!barStarted) { bar.start(total, 0); barStarted = true; }
        if (done % 50 === 0 || done === total) bar.update(done);
      },
    });
  } catch (e) {
    if (barStarted) bar.stop();
    console.error(`footfall sim: ${(e as Error).message}`);
    return false;
  }
  if (barStarted) bar.stop();
  console.log(`  ${result.crossings} crossings, ${result.sent} sent (${result.duplicatesSent} duplicates), ${result.replayed} replayed after the outage`);

  const samples = result.truth.sampleTimes(20, { avoidWithinMs: o.maxSkewMs + 500 });
  const expected = (t: number) => {
    const want: Record<string, number> = {};
    for (const s of plan.spaces) want[s.id] = baseline[s.id]! + result.truth.countAt(s.id, t);
    want["(site)"] = baseline["(site)"]! + result.truth.siteCountAt(t);
    return want;
  };
  let mismatches: string[] = [];
  const deadline = Date.now() + 60_000;
  for (;;) {
    mismatches = [];
    try {
      for (const t of samples) {
        const got = await countsOf(o.apiUrl, cfg.adminToken, plan, t);
        const want = expected(t);
        for (const k of Object.keys(want)) {
          if (got[k] !== want[k]) mismatches.push(`${k} at ${new Date(t).toISOString()}: API ${got[k]}, truth ${want[k]}`);
        }
      }
    } catch (e) {
      mismatches.push((e as Error).message);
    }
    if (mismatches.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const checks = samples.length * (plan.spaces.length + 1);
  if (mismatches.length === 0) {
    console.log(`  all ${checks} counts (${plan.spaces.length} spaces + site at ${samples.length} instants) equal ground truth`);
    return true;
  }
  console.log(`  ${mismatches.length} of ${checks} counts differ from ground truth:`);
  for (const m of mismatches.slice(0, 30)) console.log(`    ${m}`);
  return false;
}
