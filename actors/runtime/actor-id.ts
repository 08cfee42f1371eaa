/** "{site}.{rest}" -> [site, rest]: the two parts of a site-scoped actor id (a site id holds no dot). */
export function splitId(id: string): [string, string] {
  const dot = id.indexOf(".");
  return [id.slice(0, dot), id.slice(dot + 1)];
}
