/**
 * Requests generated from an OpenAPI 3.1 description (dereferenced), for the fuzz test of the
 * API (openapi-fuzz.test.ts): for every operation, valid requests built from its parameter and
 * body schemas, and mutations of them (wrong types, missing required values, overlong strings,
 * control and bidi characters, markup, unknown fields, broken JSON); for every path, methods it
 * does not answer. Deterministic for a seed.
 */
import { mulberry32 } from "../../firmware-sim/random.ts";

export type JsonSchema = Record<string, any>;

export interface SpecParameter { name: string; in: "path" | "query" | "header" | "cookie"; required?: boolean; schema?: JsonSchema; style?: string; explode?: boolean }
export interface SpecOperation {
  operationId: string;
  parameters?: SpecParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, { headers?: Record<string, { required?: boolean }>; content?: Record<string, { schema?: JsonSchema }> }>;
  security?: Array<Record<string, string[]>>;
}
export interface Spec { paths: Record<string, Record<string, any>> }

export const HTTP_METHODS = ["get", "put", "post", "delete", "patch"] as const;

/** a small seeded PRNG (the simulator's mulberry32), so a failing run is repeated by its seed */
export const prng = mulberry32;

export class Rng {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]!; }
  chance(p: number): boolean { return this.next() < p; }
  chars(alphabet: string, n: number): string { let s = ""; for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)]; return s; }
  shuffle<T>(xs: T[]): T[] { for (let i = xs.length - 1; i > 0; i--) { const j = this.int(0, i); [xs[i], xs[j]] = [xs[j]!, xs[i]!]; } return xs; }
}

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
const HEX = "0123456789abcdef";

/** Strings tried in turn for a pattern until one matches it. */
function patternCandidates(r: Rng): string[] {
  return [
    `fz-${r.chars(ALNUM, 4)}`, r.chars(HEX, 12), r.chars(HEX, 64), r.chars(ALNUM, 19), `${r.int(1, 30)}m`,
    `j${r.chars(ALNUM, 9)}${r.chars(HEX, 8)}`, `ffk_${r.chars(HEX, 12)}_${r.chars(ALNUM, 24)}`, `c-${r.int(0, 99999)}`, "white",
  ];
}

/** A value valid for `schema` (as far as a generator without a regex solver can tell). */
export function generate(schema: JsonSchema | undefined, r: Rng, depth = 0): unknown {
  if (!schema || depth > 8) return null;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return r.pick(schema.enum);
  if (Array.isArray(schema.examples) && schema.examples.length && r.chance(0.7)) return structuredClone(r.pick(schema.examples));
  if (schema.default !== undefined && r.chance(0.3)) return structuredClone(schema.default);
  if (Array.isArray(schema.oneOf)) return generate(r.pick(schema.oneOf), r, depth + 1);
  if (Array.isArray(schema.anyOf)) return generate(r.pick(schema.anyOf), r, depth + 1);
  if (Array.isArray(schema.allOf)) return generate(mergeAll(schema.allOf), r, depth + 1);
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t: string) => t !== "null") ?? "null";
  if (!type) type = schema.properties ? "object" : schema.items || schema.prefixItems ? "array" : "string";
  switch (type) {
    case "null": return null;
    case "boolean": return r.chance(0.5);
    case "integer": {
      const lo = Math.max(schema.minimum ?? 0, -1e6), hi = Math.min(schema.maximum ?? lo + 100, lo + 1e6);
      return r.int(Math.ceil(lo), Math.floor(hi));
    }
    case "number": {
      const lo = schema.minimum ?? 0, hi = schema.maximum ?? lo + 100;
      return Math.round((lo + r.next() * (hi - lo)) * 1000) / 1000;
    }
    case "string": return stringFor(schema, r);
    case "array": {
      if (Array.isArray(schema.prefixItems)) return schema.prefixItems.map((s: JsonSchema) => generate(s, r, depth + 1));
      const min = schema.minItems ?? 0, max = Math.min(schema.maxItems ?? min + 3, min + 3);
      return Array.from({ length: r.int(min, Math.max(min, max)) }, () => generate(schema.items, r, depth + 1));
    }
    case "object": {
      const out: Record<string, unknown> = {};
      const required = new Set<string>(schema.required ?? []);
      for (const [k, s] of Object.entries<JsonSchema>(schema.properties ?? {})) {
        if (s.readOnly) continue;
        if (required.has(k) || r.chance(0.5)) out[k] = generate(s, r, depth + 1);
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === "object" && r.chance(0.5)) {
        out[`k${r.chars(ALNUM, 3)}`] = generate(schema.additionalProperties, r, depth + 1);
      }
      return out;
    }
    default: return null;
  }
}

function stringFor(schema: JsonSchema, r: Rng): string {
  if (schema.format === "date-time") return new Date(Date.now() - r.int(0, 86_400_000)).toISOString();
  if (schema.format === "date") return new Date(Date.now() - r.int(0, 5) * 86_400_000).toISOString().slice(0, 10);
  if (schema.format === "binary") return r.chars(ALNUM, 16);
  const min = schema.minLength ?? 1, max = Math.min(schema.maxLength ?? 24, 24);
  if (schema.pattern) {
    const re = new RegExp(schema.pattern, "u");
    const hit = patternCandidates(r).find((c) => re.test(c) && c.length >= min && c.length <= (schema.maxLength ?? Infinity));
    if (hit) return hit;
  }
  return r.chars(ALNUM, r.int(min, Math.max(min, max)));
}

function mergeAll(schemas: JsonSchema[]): JsonSchema {
  const out: JsonSchema = { type: "object", properties: {}, required: [] };
  for (const s of schemas) {
    Object.assign(out.properties, s.properties ?? {});
    out.required.push(...(s.required ?? []));
  }
  return out;
}

/** A value of another type than `schema` asks for. */
export function wrongType(schema: JsonSchema | undefined, r: Rng): unknown {
  const t = Array.isArray(schema?.type) ? schema!.type[0] : schema?.type;
  switch (t) {
    case "string": return r.pick([42, true, [], {}, null]);
    case "integer": case "number": return r.pick(["many", 1.5e300, -1, "", [], {}, true]);
    case "boolean": return r.pick(["yes", 1, null]);
    case "array": return r.pick(["x", 3, {}, null]);
    case "object": return r.pick(["x", 3, [], null]);
    default: return r.pick([[], {}, 7, "x", null]);
  }
}

/** Strings that must be refused or stored as they are, never obeyed. */
export const NASTY = {
  overlong: () => "x".repeat(5000),
  control: () => "a\u0007b\u0000c",
  bidi: () => "gnp\u202Eexe.jpg",
  isolate: () => "a\u2066b\u2069",
  markup: () => "<script>alert(1)</script>",
} as const;

/** Every string location in a JSON value, to mutate one. */
export function stringPaths(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof v === "string") return [at];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringPaths(x, [...at, i]));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => stringPaths(x, [...at, k]));
  return [];
}

export function setAt(v: any, path: Array<string | number>, value: unknown): any {
  if (path.length === 0) return value;
  const copy = Array.isArray(v) ? [...v] : { ...v };
  copy[path[0]!] = setAt(v[path[0]!], path.slice(1), value);
  return copy;
}
