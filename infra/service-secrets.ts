import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

/**
 * Credentials of the nats-server and influxd footfall starts: generated at their first start
 * (random, 192 bits each), kept in {dataDir}/secrets/services.json (folder 0700, file 0600), so
 * only the user footfall runs as can read them. Every footfall process started by `footfall up`
 * gets them inside NATS_URL / INFLUX_URL (user:password@host); a process run by hand on the same
 * data folder reads them from this file (natsUrlOf / influxUrlOf).
 */
const Credentials = z.object({ user: z.string().min(1), password: z.string().min(16) });
const Secrets = z.object({ nats: Credentials, influx: Credentials });
export type ServiceCredentials = z.infer<typeof Credentials>;
export type ServiceSecrets = z.infer<typeof Secrets>;

export const SERVICE_USER = "footfall";

export const serviceSecretsFile = (dataDir: string): string => path.join(dataDir, "secrets", "services.json");

/** The stored credentials, or undefined when the services were never started on this data folder. */
export function readServiceSecrets(dataDir: string): ServiceSecrets | undefined {
  const file = serviceSecretsFile(dataDir);
  let text: string;
  try { text = fs.readFileSync(file, "utf8"); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const parsed = Secrets.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file} is not footfall's service credentials: ${parsed.error.message}`);
  return parsed.data;
}

/** The stored credentials; generated and stored (0600) when there are none yet. */
export function ensureServiceSecrets(dataDir: string): ServiceSecrets {
  const file = serviceSecretsFile(dataDir);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.dirname(file), 0o700);
  const existing = readServiceSecrets(dataDir);
  if (existing) {
    fs.chmodSync(file, 0o600);
    return existing;
  }
  const fresh: ServiceSecrets = {
    nats: { user: SERVICE_USER, password: randomBytes(24).toString("hex") },
    influx: { user: SERVICE_USER, password: randomBytes(24).toString("hex") },
  };
  try {
    fs.writeFileSync(file, JSON.stringify(fresh, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  } catch (e) {
    // another process wrote them first: use those
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return readServiceSecrets(dataDir)!;
    throw e;
  }
  return fresh;
}

/** `url` with these credentials as its user:password. */
export function withCredentials(url: string, c: ServiceCredentials | undefined): string {
  if (!c) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(c.user);
  u.password = encodeURIComponent(c.password);
  return u.toString().replace(/\/$/, "");
}

/** Splits user:password@ off a URL: the bare URL and the credentials it carried (if any). */
export function splitCredentials(url: string): { url: string; credentials?: ServiceCredentials } {
  const u = new URL(url);
  if (!u.username) return { url };
  const credentials = { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  u.username = "";
  u.password = "";
  return { url: u.toString().replace(/\/$/, ""), credentials };
}

/** The URL as it may be printed or logged: the password replaced by ***. */
export function redactUrl(url: string): string {
  return url.split(",").map((one) => {
    try {
      const u = new URL(one.trim());
      if (u.password) u.password = "***";
      return u.toString().replace(/\/$/, "");
    } catch { return one; }
  }).join(",");
}
