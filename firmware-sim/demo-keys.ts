import path from "node:path";
import { z } from "zod";
import { CreatedKey } from "../contracts/api-keys.ts";
import { readStateFile, writeFileAtomic } from "../infra/state-file.ts";

const SavedKeys = z.record(z.string(), CreatedKey);

/**
 * A viewer key per demo site, created through the API like an operator would (POST
 * /api/v1/keys with the admin token) and kept in {dataDir}/viewer-keys.json, so the wall URLs
 * printed by `footfall up --demo` stay the same from one start to the next. Call it for one site
 * at a time (the file is rewritten whole). A saved key that the
 * API no longer accepts (revoked, or a fresh data folder) is replaced.
 */
export async function demoViewerKey(apiUrl: string, adminToken: string, dataDir: string, site: string): Promise<CreatedKey> {
  const file = path.join(dataDir, "viewer-keys.json");
  const saved = (await readStateFile(file, SavedKeys).catch(() => undefined)) ?? {};
  const have = saved[site];
  if (have) {
    const res = await fetch(`${apiUrl}/api/v1/sites/${site}/count`, { headers: { authorization: `Bearer ${have.key}` } });
    if (res.status !== 401) return have;
  }
  const res = await fetch(`${apiUrl}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ role: "viewer", sites: [site], name: `demo wall ${site}` }),
  });
  if (res.status !== 201) throw new Error(`creating the demo viewer key for ${site}: HTTP ${res.status} ${await res.text()}`);
  const created = CreatedKey.parse(await res.json());
  await writeFileAtomic(file, JSON.stringify({ ...saved, [site]: created }, null, 2));
  return created;
}
