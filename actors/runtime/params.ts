import { z } from "zod";

/**
 * A kind's tunables: its schema's defaults with `overrides` on top, validated. Every kind declares
 * its tunables as one zod schema with `.default()`s; the knobs the configuration sets carry the
 * configuration's key (infra/config.ts) and take their default from its DEFAULTS.
 */
export function paramsOf<T extends z.ZodType>(schema: T, overrides: Partial<z.input<T>> = {}): z.output<T> {
  const parsed = schema.safeParse(overrides);
  if (!parsed.success) throw new Error(`invalid parameters: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
