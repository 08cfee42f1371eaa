/**
 * footfall's Grafana files (dashboards/grafana): the provisioning YAML and every dashboard are
 * read as Grafana reads them; then every panel of every dashboard is run against a real influxd
 * that the whole pipeline filled from the simulators (DPU building, camera mall with DPUs, a
 * camera agent recording video), with variables, $timeFilter and $__interval substituted the
 * way Grafana does (grafana-emulation.ts). A panel target without one non-null point fails,
 * naming the dashboard, the panel and the query Grafana would have sent.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseYaml } from "@redocly/openapi-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RP, rollupOf } from "../../contracts/influx-layout.ts";
import { MEASUREMENT_CROSSINGS, MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY, ROLLUPS } from "../../contracts/occupancy-store.ts";
import { M } from "../../contracts/track-store.ts";
import { VARIABLES } from "../../infra/config.ts";
import { splitCredentials } from "../../infra/service-secrets.ts";
import { eventually } from "../support/retry.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import {
  allPanels, backendReplace, hasPoint, influxQL, interpolate, intervalToMs, panelInterval, resolveVariables, roundInterval, runPanel,
  timeRangeOf, variablesIn,
  type DashboardModel, type PanelModel, type RunInfluxQL, type Selection, type VariableValue,
} from "./grafana-emulation.ts";
import { CAMERA_SITE, DPU_SITE, fillSites, runContinuousQueries, type FilledSites } from "./simulated-sites.ts";

const GRAFANA = path.resolve(import.meta.dirname, "../../dashboards/grafana");
const DASHBOARDS = path.join(GRAFANA, "dashboards");
const BUILTIN = new Set(["timeFilter", "__interval", "__interval_ms", "interval"]);

const yamlFile = (rel: string) => parseYaml(readFileSync(path.join(GRAFANA, rel), "utf8")) as Record<string, unknown>;
const dashboards: Array<{ file: string; d: DashboardModel }> = readdirSync(DASHBOARDS).filter((f) => f.endsWith(".json")).sort()
  .map((file) => ({ file, d: JSON.parse(readFileSync(path.join(DASHBOARDS, file), "utf8")) as DashboardModel }));

interface DatasourceYaml { name: string; uid: string; type: string; access: string; url: string; user: string; secureJsonData: { password: string }; jsonData: { version: string; dbName: string; timeInterval: string; httpMode: string } }
const datasource = (yamlFile("provisioning/datasources/footfall.yaml").datasources as DatasourceYaml[])[0]!;

/** Measurements footfall writes, as "rp.measurement" (the default RP written bare). */
const KNOWN = new Set<string>([
  MEASUREMENT_CROSSINGS, MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY, ...Object.values(M),
  ...ROLLUPS.map((r) => `${RP.rollup}.${rollupOf(r.measurement)}`),
]);

/** The measurements a query reads (FROM clauses, subqueries included). */
function measurementsOf(query: string): string[] {
  const out: string[] = [];
  for (const m of query.matchAll(/\bFROM\s+((?:"[^"]+"(?:\."[^"]+")?\s*,?\s*)+)/g)) {
    for (const part of m[1]!.split(",")) {
      const names = [...part.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
      out.push(names.length === 2 ? `${names[0]}.${names[1]}` : names[0]!);
    }
  }
  return out;
}

/** With FOOTFALL_TEST_REPORT set: what each panel got. */
const report = (line: string) => { if (process.env.FOOTFALL_TEST_REPORT) console.log(line); };

const influxTargets = (p: PanelModel) => (p.targets ?? []).filter((t) => t.datasource?.type !== "__expr__");

describe("the Grafana emulation substitutes as Grafana does", () => {
  const values = new Map<string, VariableValue>([["site", ["a.mall", "b-mall"]], ["one", ["c(1)"]], ["tz", "Europe/Berlin"], ["text", "x/y"]]);

  it("variables: several values as a regex alternation, one value regex-escaped, ${v:raw} as it is", () => {
    expect(interpolate(`"site" =~ /^$site$/ AND "x" =~ /^$one$/`, values, "regex")).toBe(`"site" =~ /^(a\\.mall|b-mall)$/ AND "x" =~ /^c\\(1\\)$/`);
    expect(interpolate(`tz('\${tz:raw}') [[text]] \${text}`, values, "regex")).toBe(`tz('Europe/Berlin') x\\/y x\\/y`);
    // what the backend replaces, and legend patterns, are left alone
    expect(interpolate(`$timeFilter $__interval $__interval_ms $tag_space $unknown`, values, "regex")).toBe(`$timeFilter $__interval $__interval_ms $tag_space $unknown`);
  });

  it("$timeFilter, $__interval and $__interval_ms as the InfluxDB backend writes them", () => {
    const range = { from: 1_000_000, to: 1_000_000 + 6 * 3_600_000 };
    expect(backendReplace(`WHERE $timeFilter GROUP BY time($__interval) / $__interval_ms`, range, { ms: 20_000, text: "20s" }))
      .toBe(`WHERE time >= 1000000ms and time <= 22600000ms GROUP BY time(20s) / 20000`);
  });

  it("$__interval: the range over the panel's width, on Grafana's ladder, at least its min interval", () => {
    const sixHours = { from: 0, to: 6 * 3_600_000 };
    const panel = (w: number, interval?: string): PanelModel => ({ id: 1, type: "timeseries", title: "p", gridPos: { x: 0, y: 0, w, h: 8 }, ...(interval ? { interval } : {}) });
    expect(panelInterval(panel(12), sixHours, "1s")).toEqual({ ms: 20_000, text: "20s" }); // 6 h / 960 px = 22.5 s
    expect(panelInterval(panel(24), sixHours, "1s")).toEqual({ ms: 10_000, text: "10s" }); // 11.25 s
    expect(panelInterval(panel(12, "1m"), sixHours, "1s")).toEqual({ ms: 60_000, text: "1m" });
    expect(panelInterval(panel(24), { from: 0, to: 60_000 }, "1s")).toEqual({ ms: 1000, text: "1s" });
    expect(roundInterval(30 * 86_400_000 / 960)).toBe(3_600_000);
  });
});

describe("Grafana provisioning files", () => {
  it("provision an InfluxQL data source on footfall's database, its URL from the environment", () => {
    const doc = yamlFile("provisioning/datasources/footfall.yaml");
    expect(doc.apiVersion).toBe(1);
    expect(doc.datasources).toHaveLength(1);
    expect(datasource).toMatchObject({ type: "influxdb", access: "proxy", uid: expect.stringMatching(/^[\w-]{1,40}$/) });
    expect(datasource.url).toMatch(/^\$\{?FOOTFALL_INFLUX_URL\}?$/);
    expect(datasource.jsonData.version).toBe("InfluxQL");
    expect(datasource.jsonData.dbName).toBe(VARIABLES.influxDb.default);
    expect(intervalToMs(datasource.jsonData.timeInterval)).toBe(1000);
  });

  it("provision the dashboards from a folder (file provider)", () => {
    const doc = yamlFile("provisioning/dashboards/footfall.yaml");
    expect(doc.apiVersion).toBe(1);
    const providers = doc.providers as Array<{ type: string; folder: string; options: { path: string } }>;
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: "file", folder: "footfall", options: { path: expect.stringMatching(/^\//) } });
  });
});

describe("Grafana dashboards (JSON)", () => {
  it("are the four of footfall", () => {
    expect(dashboards.map((x) => x.d.uid).sort()).toEqual(["footfall-cameras", "footfall-daily", "footfall-devices", "footfall-occupancy"]);
  });

  for (const { file, d } of dashboards) {
    it(`${file} is a dashboard Grafana can provision: uid, title, schemaVersion, panels with the data source`, () => {
      expect(d).toMatchObject({ uid: expect.stringMatching(/^[\w-]{1,40}$/), title: expect.stringMatching(/\S/), id: null });
      expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(d.time).toMatchObject({ from: expect.stringMatching(/^now-\d+[smhdw]$/), to: "now" });
      const panels = allPanels(d);
      expect(panels.length).toBeGreaterThan(0);
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const names = new Set(d.templating.list.map((v) => v.name));
      for (const p of panels) {
        const where = `${d.title} › ${p.title}`;
        expect(p.title, where).toMatch(/\S/);
        expect(p.datasource, where).toEqual({ type: "influxdb", uid: datasource.uid });
        expect(p.gridPos.x + p.gridPos.w, where).toBeLessThanOrEqual(24);
        const targets = p.targets ?? [];
        expect(targets.length, where).toBeGreaterThan(0);
        expect(new Set(targets.map((t) => t.refId)).size, where).toBe(targets.length);
        for (const t of influxTargets(p)) {
          expect(t.datasource, where).toEqual({ type: "influxdb", uid: datasource.uid });
          expect(t.rawQuery, where).toBe(true);
          expect(t.query, where).toMatch(/\$timeFilter/);
          for (const v of variablesIn(t.query!)) expect(BUILTIN.has(v) || names.has(v), `${where}: $${v} is not defined`).toBe(true);
          for (const m of measurementsOf(t.query!)) expect(KNOWN.has(m), `${where}: footfall writes no measurement ${m}`).toBe(true);
        }
        for (const t of targets.filter((x) => x.datasource?.type === "__expr__")) {
          expect(t.type, where).toBe("math");
          for (const ref of variablesIn(t.expression ?? "")) expect(targets.some((x) => x.refId === ref), `${where}: $${ref}`).toBe(true);
        }
      }
      for (const v of d.templating.list.filter((x) => x.type === "query")) {
        expect(v.datasource, `${d.title}: $${v.name}`).toEqual({ type: "influxdb", uid: datasource.uid });
        expect(v.query, `${d.title}: $${v.name}`).toMatch(/^SHOW TAG VALUES /);
        for (const m of measurementsOf(String(v.query))) expect(KNOWN.has(m), `${d.title}: $${v.name} reads ${m}`).toBe(true);
      }
    });
  }

  it("cover what footfall records: counts, rollups, crossings, cameras, zones, lines, video, and cameras against DPUs", () => {
    const used = new Set(dashboards.flatMap(({ d }) => allPanels(d).flatMap((p) => influxTargets(p).flatMap((t) => measurementsOf(t.query!)))));
    for (const m of KNOWN) {
      if (m === M.person || m === M.cameraAttrs) continue; // paths and attributes are the API's, not a chart's
      expect(used.has(m), `no panel reads ${m}`).toBe(true);
    }
    const vars = new Set(dashboards.flatMap(({ d }) => d.templating.list.map((v) => v.name)));
    for (const v of ["site", "space", "camera"]) expect(vars.has(v)).toBe(true);
    expect(dashboards.some(({ d }) => allPanels(d).some((p) => p.targets?.some((t) => t.type === "math")))).toBe(true);
  });
});

describe("every panel of every dashboard shows data of the simulated sites (real influxd, filled through MQTT, JetStream and the actors)", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let run: RunInfluxQL;
  let filled: FilledSites;
  const ds = () => ({ uid: datasource.uid, timeInterval: datasource.jsonData.timeInterval });

  beforeAll(async () => {
    // as the camera e2e test: simulated time runs far faster than real time, one partition keeps
    // the cameras in the stream's order and the linker waits for the slowest
    stack = await startTestStack({ hosts: 1, partitions: 1, overrides: { linkerWaitMs: 30 * 60_000 } });
    // Grafana's data source as provisioned, its URL from the environment as Grafana expands it
    const { url: bare, credentials } = splitCredentials(stack.services.influxUrl);
    const url = datasource.url.replace(/^\$\{?FOOTFALL_INFLUX_URL\}?$/, bare);
    expect(datasource.user).toMatch(/^\$\{?FOOTFALL_INFLUX_USER\}?$/);
    expect(datasource.secureJsonData.password).toMatch(/^\$\{?FOOTFALL_INFLUX_PASSWORD\}?$/);
    run = influxQL(url, datasource.jsonData.dbName, credentials);
    expect(stack.cfg.influxDb).toBe(datasource.jsonData.dbName);
    filled = await fillSites(stack, run);
  }, 240_000);
  afterAll(async () => { await stack?.stop(); });

  /** Every panel target that has no point, for one selection of the variables. */
  async function emptyTargets(selection: Selection): Promise<string[]> {
    const now = Date.now();
    // the hourly rollups, as influxd makes them at the full hour
    await runContinuousQueries(stack.services.influxUrl, datasource.jsonData.dbName, now - 2 * 86_400_000, now);
    const empty: string[] = [];
    for (const { d } of dashboards) {
      const range = timeRangeOf(d, now);
      const resolved = await resolveVariables(d, run, range, datasource.jsonData.timeInterval, selection);
      const values = new Map<string, VariableValue>(resolved.map((v) => [v.name, v.value]));
      for (const p of allPanels(d)) {
        for (const r of await runPanel(p, values, range, ds(), run)) {
          const points = r.series.reduce((n, s) => n + s.points.filter(([, v]) => v !== null).length, 0);
          report(`${selection} | ${d.title} › ${p.title} › ${r.refId}: ${r.series.length} series, ${points} points | ${r.statement}`);
          if (!hasPoint(r)) empty.push(`${d.title} › ${p.title} › ${r.refId}: no data (${JSON.stringify(Object.fromEntries(values))}) ${r.statement}`);
        }
      }
    }
    return empty;
  }

  it("the variables list the sites, spaces and cameras from SHOW TAG VALUES", async () => {
    const now = Date.now();
    const byName = async (uid: string) => {
      const d = dashboards.find((x) => x.d.uid === uid)!.d;
      return new Map((await resolveVariables(d, run, timeRangeOf(d, now), datasource.jsonData.timeInterval, "saved")).map((v) => [v.name, v]));
    };
    const occupancy = await byName("footfall-occupancy");
    expect(occupancy.get("site")!.options).toEqual([CAMERA_SITE, DPU_SITE]);
    expect(occupancy.get("site")!.value).toEqual([CAMERA_SITE, DPU_SITE]);
    expect(occupancy.get("space")!.options).toEqual(expect.arrayContaining(["lobby", "food-court", "corridor-west", "shop-a"]));
    const cameras = await byName("footfall-cameras");
    expect(cameras.get("site")!.options).toEqual([CAMERA_SITE]);
    expect(cameras.get("camera")!.options).toHaveLength(7);
    const devices = await byName("footfall-devices");
    expect(devices.get("camera")!.options).toContain(filled.videoCamera);
  });

  /** Zone actors write the last visits a little after the persons settle: waits for that state (not a time), then names what is empty. */
  async function expectNoEmptyPanel(selection: Selection): Promise<void> {
    let empty: string[] = [];
    await eventually("every panel has data", async () => (empty = await emptyTargets(selection)).length === 0, 60_000, 2000)
      .catch((e: Error) => { throw new Error(`${e.message}\nempty panels (${selection} selection):\n${empty.join("\n")}`); });
  }

  it("with the saved selection (All)", () => expectNoEmptyPanel("saved"));

  it("with each variable set to its first value alone (the single-value regex form)", () => expectNoEmptyPanel("first"));
});
