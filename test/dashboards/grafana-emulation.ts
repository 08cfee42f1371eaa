/**
 * What Grafana (10 and newer, InfluxQL through its backend) does with a dashboard before InfluxDB
 * sees a query, rebuilt for tests, since Grafana itself cannot run here:
 *
 *  - the time range from the dashboard's `time` ("now-6h" .. "now");
 *  - template variables: query variables are resolved by running their query (SHOW TAG VALUES),
 *    in the order they are listed, each seeing the ones before it; textbox variables keep their
 *    value. A multi-value or "All" selection becomes `(a|b)`, every value regex-escaped, the
 *    "regex" format Grafana's InfluxDB data source applies to the whole query text; `${v:raw}`
 *    keeps a value as it is;
 *  - `$__interval` / `$__interval_ms`: the range divided by the panel's width in pixels (on a
 *    1920 px screen) or its maxDataPoints, rounded to Grafana's ladder of nice intervals, at
 *    least the panel's min interval or the data source's timeInterval; `$timeFilter` as
 *    `time >= {from}ms and time <= {to}ms` (Grafana's backend writes exactly that);
 *  - server-side expressions of type "math" (`$A - $B`): series of both sides with the same
 *    tags, joined on time.
 *
 * The sources: Grafana's pkg/tsdb/influxdb/models/query.go (Build: $timeFilter, $interval,
 * $__interval_ms, $__interval), @grafana/data rangeutil roundInterval and text/string escapeRegex,
 * the variable format registry ("regex", "raw") and the template service's variable syntax.
 */

export interface TimeRange { from: number; to: number }

export interface VariableModel {
  type: string;
  name: string;
  query?: unknown;
  datasource?: { type?: string; uid?: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  sort?: number;
  regex?: string;
  current?: { text?: unknown; value?: unknown };
}

export interface TargetModel {
  refId: string;
  datasource?: { type?: string; uid?: string };
  query?: string;
  rawQuery?: boolean;
  resultFormat?: string;
  type?: string;
  expression?: string;
  hide?: boolean;
}

export interface PanelModel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  interval?: string;
  maxDataPoints?: number;
  targets?: TargetModel[];
  panels?: PanelModel[];
}

export interface DashboardModel {
  uid: string;
  title: string;
  schemaVersion: number;
  time: { from: string; to: string };
  templating: { list: VariableModel[] };
  panels: PanelModel[];
}

/** A series as InfluxDB's /query answers it. */
export interface InfluxSeries { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }

/** Runs one InfluxQL statement the way Grafana's backend sends it (GET /query, db, epoch=ms, u and p). */
export type RunInfluxQL = (statement: string) => Promise<InfluxSeries[]>;

export function influxQL(url: string, db: string, auth?: { user: string; password: string }): RunInfluxQL {
  return async (statement) => {
    const u = new URL("/query", url);
    u.searchParams.set("db", db);
    // the data source's user and password: Grafana sends them as u and p
    if (auth) { u.searchParams.set("u", auth.user); u.searchParams.set("p", auth.password); }
    u.searchParams.set("q", statement);
    u.searchParams.set("epoch", "ms");
    const r = await fetch(u);
    const body = (await r.json()) as { error?: string; results?: Array<{ error?: string; series?: InfluxSeries[] }> };
    const err = body.error ?? body.results?.find((x) => x.error)?.error;
    if (r.status !== 200 || err) throw new Error(`InfluxDB refused ${JSON.stringify(statement)}: ${r.status} ${err ?? ""}`);
    return body.results?.[0]?.series ?? [];
  };
}

// --- time --------------------------------------------------------------------------------------

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** "now" or "now-{n}{unit}" (the relative ranges these dashboards use). */
export function relativeTime(text: string, now: number): number {
  if (text === "now") return now;
  const m = /^now-(\d+)(ms|s|m|h|d|w|y)$/.exec(text);
  if (!m) throw new Error(`time "${text}" is not "now" or "now-<n><unit>"`);
  return now - Number(m[1]) * UNIT_MS[m[2]!]!;
}

export function timeRangeOf(d: DashboardModel, now: number): TimeRange {
  return { from: relativeTime(d.time.from, now), to: relativeTime(d.time.to, now) };
}

/** "1m", "30s", "500ms", "2h" -> ms (Grafana's intervalToMs; a bare number is seconds). */
export function intervalToMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(text);
  if (!m) throw new Error(`interval "${text}" is not <n><unit>`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** @grafana/data rangeutil.roundInterval */
export function roundInterval(ms: number): number {
  const ladder: Array<[below: number, value: number]> = [
    [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000], [7500, 5000],
    [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000], [210000, 120000], [450000, 300000],
    [750000, 600000], [1050000, 900000], [1500000, 1200000], [2700000, 1800000], [5400000, 3600000], [9000000, 7200000],
    [16200000, 10800000], [32400000, 21600000], [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, value] of ladder) if (ms < below) return value;
  return 31536000000;
}

/** grafana-plugin-sdk-go gtime.FormatInterval: the largest whole unit. */
export function formatInterval(ms: number): string {
  for (const [unit, size] of [["y", UNIT_MS.y!], ["d", UNIT_MS.d!], ["h", UNIT_MS.h!], ["m", UNIT_MS.m!], ["s", UNIT_MS.s!]] as const) {
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return `${Math.max(1, Math.floor(ms))}ms`;
}

/** Grafana's screen for these dashboards: 24 grid columns over 1920 px. */
const SCREEN_PX = 1920;

/** The panel's $__interval: range / data points (its width in px), rounded, at least the lower limit. */
export function panelInterval(panel: PanelModel, range: TimeRange, dsTimeInterval: string | undefined): { ms: number; text: string } {
  const points = panel.maxDataPoints ?? Math.round((panel.gridPos.w / 24) * SCREEN_PX);
  const lowLimit = panel.interval ?? dsTimeInterval;
  let ms = roundInterval((range.to - range.from) / points);
  if (lowLimit !== undefined && intervalToMs(lowLimit) > ms) ms = intervalToMs(lowLimit);
  return { ms, text: formatInterval(ms) };
}

// --- template variables ------------------------------------------------------------------------

/** @grafana/data escapeRegex */
export const escapeRegex = (value: string): string => value.replace(/[\\^$*+?.()|[\]{}/]/g, "\\$&");

export type VariableValue = string | string[];

function format(value: VariableValue, fmt: string): string {
  if (fmt === "raw") return Array.isArray(value) ? value.join(",") : value;
  if (fmt === "regex") {
    if (!Array.isArray(value)) return escapeRegex(value);
    const escaped = value.map(escapeRegex);
    return escaped.length === 1 ? escaped[0]! : `(${escaped.join("|")})`;
  }
  throw new Error(`variable format "${fmt}" is not one these tests know (raw, regex)`);
}

/** The template service's variable syntax: $name, [[name]] / [[name:fmt]], ${name} / ${name:fmt}. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;

/**
 * Replaces the dashboard's variables in `text` (default format `fmt`); anything else that looks
 * like a variable ($timeFilter, $__interval, $tag_space) is left for the backend or the legend.
 */
export function interpolate(text: string, values: ReadonlyMap<string, VariableValue>, fmt: string): string {
  return text.replace(VARIABLE, (match, plain?: string, bracket?: string, bracketFmt?: string, braced?: string, bracedFmt?: string) => {
    const name = plain ?? bracket ?? braced!;
    const value = values.get(name);
    if (value === undefined) return match;
    return format(value, bracketFmt ?? bracedFmt ?? fmt);
  });
}

/** Names of $variables used in a text. */
export function variablesIn(text: string): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => m[1] ?? m[2] ?? m[4]!);
}

/** What Grafana's InfluxDB backend replaces (query.go Build), in its order. */
export function backendReplace(query: string, range: TimeRange, interval: { ms: number; text: string }): string {
  return query
    .replaceAll("$timeFilter", `time >= ${Math.floor(range.from)}ms and time <= ${Math.floor(range.to)}ms`)
    .replaceAll("$interval", interval.text)
    .replaceAll("$__interval_ms", String(interval.ms))
    .replaceAll("$__interval", interval.text);
}

export interface ResolvedVariable { name: string; options: string[]; value: VariableValue }

/** How the variables are set: as the dashboard saved them (usually All), or each to its first option alone. */
export type Selection = "saved" | "first";

function currentValues(v: VariableModel): string[] {
  const raw = v.current?.value;
  if (raw === undefined || raw === null) return [];
  return (Array.isArray(raw) ? raw : [raw]).map(String);
}

/**
 * Resolves the dashboard's variables in order, as a dashboard load does (refresh on load): a
 * query variable runs its query (interpolated with the variables before it, regex format, with
 * the dashboard's time range), its options are the distinct values, sorted as asked; the saved
 * selection is kept where its values exist, else the first option is selected.
 */
export async function resolveVariables(
  d: DashboardModel, run: RunInfluxQL, range: TimeRange, dsTimeInterval: string | undefined, selection: Selection,
): Promise<ResolvedVariable[]> {
  const values = new Map<string, VariableValue>();
  const out: ResolvedVariable[] = [];
  const names = d.templating.list.map((v) => v.name);
  for (const [i, v] of d.templating.list.entries()) {
    if (v.type === "textbox" || v.type === "constant") {
      const value = currentValues(v)[0] ?? String(v.query ?? "");
      values.set(v.name, value);
      out.push({ name: v.name, options: [value], value });
      continue;
    }
    if (v.type !== "query") throw new Error(`${d.title}: variable ${v.name} has type ${v.type}, which these tests cannot resolve`);
    if (typeof v.query !== "string") throw new Error(`${d.title}: variable ${v.name} has no query text`);
    const later = variablesIn(v.query).filter((n) => names.indexOf(n) >= i);
    if (later.length > 0) throw new Error(`${d.title}: variable ${v.name} uses ${later.join(", ")}, which is not defined before it`);
    const statement = backendReplace(interpolate(v.query, values, "regex"), range, panelInterval(
      { id: 0, type: "variable", title: v.name, gridPos: { x: 0, y: 0, w: 24, h: 1 } }, range, dsTimeInterval));
    const series = await run(statement);
    // a metric-find answer: the "value" column of SHOW TAG VALUES (else the first column), every series
    const found = new Set<string>();
    for (const s of series) {
      const col = s.columns.includes("value") ? s.columns.indexOf("value") : 0;
      for (const row of s.values) if (row[col] !== null && row[col] !== undefined) found.add(String(row[col]));
    }
    let options = [...found];
    if (v.regex) {
      const re = new RegExp(v.regex.replace(/^\/(.*)\/[a-z]*$/, "$1"));
      options = options.filter((o) => re.test(o));
    }
    if (v.sort === 1 || v.sort === 5) options.sort();
    else if (v.sort === 2 || v.sort === 6) options.sort().reverse();
    else if (v.sort !== undefined && v.sort !== 0) throw new Error(`${d.title}: variable ${v.name} sort ${v.sort} is not one these tests know`);
    if (options.length === 0) throw new Error(`${d.title}: variable ${v.name} has no values (${statement})`);

    let value: VariableValue;
    const saved = currentValues(v);
    if (selection === "first") value = v.multi ? [options[0]!] : options[0]!;
    else if (saved.includes("$__all") && v.includeAll) {
      if (v.allValue) throw new Error(`${d.title}: variable ${v.name} has a custom all value, which these tests do not model`);
      value = options;
    } else {
      const kept = saved.filter((s) => options.includes(s));
      value = kept.length === 0 ? (v.multi ? [options[0]!] : options[0]!) : v.multi ? kept : kept[0]!;
    }
    values.set(v.name, value);
    out.push({ name: v.name, options, value });
  }
  return out;
}

// --- panels ------------------------------------------------------------------------------------

/** A series of one target: its tags and its [time, value] points (one per value column). */
export interface PanelSeries { name: string; tags: Record<string, string>; points: Array<[number, unknown]> }

export interface TargetResult { refId: string; statement?: string; series: PanelSeries[] }

const tagKey = (tags: Record<string, string>) => JSON.stringify(Object.entries(tags).sort(([a], [b]) => a.localeCompare(b)));

function toPanelSeries(series: InfluxSeries[], resultFormat: string | undefined): PanelSeries[] {
  if (resultFormat !== "table" && resultFormat !== "time_series" && resultFormat !== undefined) {
    throw new Error(`result format ${resultFormat} is not one these tests know`);
  }
  const out: PanelSeries[] = [];
  for (const s of series) {
    const t = s.columns.indexOf("time");
    for (const [c, col] of s.columns.entries()) {
      if (c === t) continue;
      out.push({
        name: `${s.name}.${col}`, tags: s.tags ?? {},
        points: s.values.map((row) => [t >= 0 ? Number(row[t]) : 0, row[c]] as [number, unknown]),
      });
    }
  }
  return out;
}

const BINARY = /^\s*\$([A-Za-z]\w*)\s*([-+*/])\s*\$([A-Za-z]\w*)\s*$/;

/** A server-side "math" expression of two queries: series with the same tags, joined on time. */
function mathExpression(expression: string, byRef: ReadonlyMap<string, TargetResult>): PanelSeries[] {
  const m = BINARY.exec(expression);
  if (!m) throw new Error(`math expression "${expression}" is not "$X <op> $Y", the form these tests evaluate`);
  const [, left, op, right] = m;
  const a = byRef.get(left!), b = byRef.get(right!);
  if (!a || !b) throw new Error(`math expression "${expression}" refers to a query the panel does not have`);
  const f = { "+": (x: number, y: number) => x + y, "-": (x: number, y: number) => x - y, "*": (x: number, y: number) => x * y, "/": (x: number, y: number) => x / y }[op as "+" | "-" | "*" | "/"];
  const out: PanelSeries[] = [];
  for (const sa of a.series) {
    for (const sb of b.series.filter((s) => tagKey(s.tags) === tagKey(sa.tags))) {
      const bAt = new Map(sb.points.map(([t, v]) => [t, v]));
      out.push({
        name: `${left} ${op} ${right}`, tags: sa.tags,
        points: sa.points.map(([t, v]) => {
          const w = bAt.get(t);
          return [t, typeof v === "number" && typeof w === "number" ? f(v, w) : null];
        }),
      });
    }
  }
  return out;
}

/**
 * Runs every target of a panel as Grafana would for this selection and time range: InfluxQL
 * targets of our data source, then the expressions over them. Hidden targets run too (an
 * expression may use them).
 */
export async function runPanel(
  panel: PanelModel, values: ReadonlyMap<string, VariableValue>, range: TimeRange, ds: { uid: string; timeInterval?: string }, run: RunInfluxQL,
): Promise<TargetResult[]> {
  const interval = panelInterval(panel, range, ds.timeInterval);
  const byRef = new Map<string, TargetResult>();
  const targets = panel.targets ?? [];
  for (const t of targets.filter((x) => x.datasource?.type !== "__expr__")) {
    const dsRef = t.datasource ?? panel.datasource;
    if (dsRef?.uid !== ds.uid) throw new Error(`target ${t.refId} uses data source ${JSON.stringify(dsRef)}, not ${ds.uid}`);
    if (!t.rawQuery || typeof t.query !== "string") throw new Error(`target ${t.refId} is not a raw InfluxQL query`);
    const statement = backendReplace(interpolate(t.query, values, "regex"), range, interval);
    byRef.set(t.refId, { refId: t.refId, statement, series: toPanelSeries(await run(statement), t.resultFormat) });
  }
  for (const t of targets.filter((x) => x.datasource?.type === "__expr__")) {
    if (t.type !== "math" || typeof t.expression !== "string") throw new Error(`expression ${t.refId} of type ${t.type} is not one these tests evaluate`);
    byRef.set(t.refId, { refId: t.refId, statement: t.expression, series: mathExpression(t.expression, byRef) });
  }
  return targets.map((t) => byRef.get(t.refId)!);
}

/** Panels inside rows count too. */
export function allPanels(d: DashboardModel): PanelModel[] {
  return d.panels.flatMap((p) => (p.type === "row" ? p.panels ?? [] : [p]));
}

export const hasPoint = (r: TargetResult): boolean =>
  r.series.some((s) => s.points.some(([, v]) => v !== null && v !== undefined && !(typeof v === "number" && Number.isNaN(v))));
