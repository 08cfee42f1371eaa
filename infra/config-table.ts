import { VARIABLES, type ConfigKey } from "./config.ts";

/** docs/configuration.md holds the generated table between these two lines. */
export const TABLE_START = "<!-- config:start -->";
export const TABLE_END = "<!-- config:end -->";

const shownDefault = (key: ConfigKey): string => {
  const v = VARIABLES[key];
  if (v.shown !== undefined) return v.shown;
  return typeof v.default === "string" ? `\`${v.default}\`` : String(v.default);
};

/** The configuration as a Markdown table: variable, default, meaning (generated from infra/config.ts). */
export function configTable(): string {
  const rows = (Object.keys(VARIABLES) as ConfigKey[]).map((k) => `| \`${VARIABLES[k].env}\` | ${shownDefault(k)} | ${VARIABLES[k].doc} |`);
  return ["| variable | default | meaning |", "|---|---|---|", ...rows].join("\n");
}

/** `doc` with the text between the markers replaced by the current table. */
export function withConfigTable(doc: string): string {
  const a = doc.indexOf(TABLE_START);
  const b = doc.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error(`no ${TABLE_START} ... ${TABLE_END} section`);
  return `${doc.slice(0, a + TABLE_START.length)}\n${configTable()}\n${doc.slice(b)}`;
}
