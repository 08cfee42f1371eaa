/**
 * The project's import graph, read from the TypeScript sources with the compiler's own
 * pre-processor (static imports, re-exports and dynamic `import("...")` with a literal), and the
 * rules the tree obeys, checked over it. Paths are repo-relative with forward slashes.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export interface Edge { from: string; to: string }

const SOURCE = /\.(ts|js|mjs)$/;
const SKIP = new Set(["node_modules", ".git", ".footfall", ".data", ".scratch", "cache", ".ci"]);

/** Every source file under `root` (repo-relative). */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      if (SKIP.has(e.name)) continue;
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else if (SOURCE.test(e.name)) out.push(rel);
    }
  };
  walk("");
  return out.sort();
}

/** The project-internal imports of every file (relative specifiers resolved; packages left out). */
export function importGraph(root: string, files = sourceFiles(root)): Edge[] {
  const edges: Edge[] = [];
  for (const from of files) {
    const info = ts.preProcessFile(fs.readFileSync(path.join(root, from), "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(from), fileName));
      edges.push({ from, to });
    }
  }
  return edges;
}

/** The part of the system a file belongs to: its top folder, with video/ and infra/ split by their sub-folders. */
export const topOf = (file: string) => file.split("/")[0]!;
const under = (file: string, ...dirs: string[]) => dirs.some((d) => file === d || file.startsWith(`${d}/`));

/** Actor kinds: the folders of actors/ that hold a behaviour. */
export function actorKinds(root: string): string[] {
  return fs.readdirSync(path.join(root, "actors"), { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(root, "actors", e.name, "behavior.ts")))
    .map((e) => e.name)
    .sort();
}

export interface Rule {
  name: string;
  /** why the edge breaks the rule, or undefined if it does not */
  check(e: Edge): string | undefined;
}

export function rules(kinds: readonly string[]): Rule[] {
  const kindOf = (f: string) => {
    const m = /^actors\/([^/]+)\//.exec(f);
    return m && kinds.includes(m[1]!) ? m[1] : undefined;
  };
  const EDGE = ["video/agent", "video/detect"];
  const infraGround = (f: string) => under(f, "infra") && !under(f, "infra/cli", "infra/stack");
  return [
    {
      name: "no product code imports the simulator or the tests",
      // the roof (the CLI and `footfall up`) starts the simulated buildings of `footfall sim` and `up --demo`
      check: (e) => !under(e.from, "test", "firmware-sim", "infra/cli", "infra/stack") && under(e.to, "firmware-sim", "test")
        ? "product code imports simulator or test code" : undefined,
    },
    {
      name: "server code never imports the edge agent",
      check: (e) => !under(e.from, ...EDGE, "infra/cli", "infra/stack", "firmware-sim", "test") && under(e.to, ...EDGE)
        ? "imports the camera agent's edge processes (video/agent, video/detect)" : undefined,
    },
    {
      name: "actor kinds never import sibling kinds",
      check: (e) => {
        const a = kindOf(e.from), b = kindOf(e.to);
        return a && b && a !== b ? `actor kind ${a} imports kind ${b}: shared helpers belong in actors/runtime/ or a shared module` : undefined;
      },
    },
    {
      name: "contracts/ imports nothing of ours but itself",
      check: (e) => under(e.from, "contracts") && !under(e.to, "contracts") ? "contracts import project code" : undefined,
    },
    {
      name: "infra's ground (configuration, logging, NATS, services) imports only contracts and itself",
      check: (e) => infraGround(e.from) && !(infraGround(e.to) || under(e.to, "contracts"))
        ? "infra's ground imports the CLI, the stack or a part of the system above it" : undefined,
    },
    {
      name: "the registry (topology/) imports only contracts, infra's ground and itself",
      check: (e) => under(e.from, "topology") && !(under(e.to, "topology", "contracts") || infraGround(e.to))
        ? "the device and topology registry imports a part of the system that uses it" : undefined,
    },
    {
      name: "read access (access/) imports only contracts, infra's ground and itself",
      check: (e) => under(e.from, "access") && !(under(e.to, "access", "contracts") || infraGround(e.to))
        ? "the API keys and read checks import a part of the system that uses them" : undefined,
    },
    {
      name: "the live gateway (dashboards/gateway) imports only contracts, infra's ground, access, topology, the API's InfluxDB readers and itself",
      // never the broker, the actors or the wall's pages: it reads FF_EVENTS, KV and InfluxDB like any reader
      check: (e) => under(e.from, "dashboards/gateway") && !(
        under(e.to, "dashboards/gateway", "contracts", "access", "topology") || infraGround(e.to) ||
        e.to === "api/occupancy/occupancy-reader.ts" || e.to === "api/tracks/camera-health.ts"
      ) ? "the live gateway imports a part of the system it only reads from, or one that uses it" : undefined,
    },
    {
      name: "the wall's server side (dashboards/wall) imports only contracts, access/, topology/, infra's ground and itself",
      check: (e) => under(e.from, "dashboards/wall") && !(under(e.to, "dashboards/wall", "contracts", "access", "topology") || infraGround(e.to))
        ? "the wall imports a part of the system that serves it (the API mounts the wall, not the other way round)" : undefined,
    },
    {
      name: "the devices' broker list (edge/) imports only contracts, infra's ground and itself",
      // shared by the simulator's devices and the camera agent, so it may import neither
      check: (e) => under(e.from, "edge") && !(under(e.to, "edge", "contracts") || infraGround(e.to))
        ? "the devices' shared connect code imports a part of the system that uses it" : undefined,
    },
    {
      name: "the wall's browser code (dashboards/wall/page) imports only contracts and itself",
      check: (e) => under(e.from, "dashboards/wall/page") && !under(e.to, "dashboards/wall/page", "contracts")
        ? "browser code imports server code (it is bundled for the page)" : undefined,
    },
  ];
}

export interface Violation { rule: string; from: string; to: string; why: string }

export function violations(edges: readonly Edge[], ruleSet: readonly Rule[]): Violation[] {
  const out: Violation[] = [];
  for (const e of edges) {
    for (const r of ruleSet) {
      const why = r.check(e);
      if (why) out.push({ rule: r.name, from: e.from, to: e.to, why });
    }
  }
  return out;
}

/** Import cycles: the strongly connected components of more than one file (or a file importing itself), Tarjan's algorithm. */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    next.get(e.from)!.push(e.to);
    if (!next.has(e.to)) next.set(e.to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n);
    n++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || next.get(v)!.includes(v)) out.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}
