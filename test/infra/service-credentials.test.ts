import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { influxUrlOf, loadConfig, natsUrlOf } from "../../infra/config.ts";
import { connectNats } from "../../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../../infra/provision.ts";
import { readServiceSecrets, serviceSecretsFile, splitCredentials } from "../../infra/service-secrets.ts";
import { startTestServices, type TestServices } from "../support/services.ts";

/** footfall's nats-server and influxd admit only the credentials generated at their first start. */
describe("service credentials (real nats-server and influxd)", () => {
  let s: TestServices;
  const otherDirs: string[] = [];
  beforeAll(async () => { s = await startTestServices(); });
  afterAll(async () => {
    await s?.stop();
    for (const d of otherDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("generates them once, readable by the owner only", () => {
    const file = serviceSecretsFile(s.dataDir);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    // the nats-server config holds the password too
    expect(fs.statSync(path.join(s.dataDir, "nats", "nats-server.conf")).mode & 0o777).toBe(0o600);
    const secrets = readServiceSecrets(s.dataDir)!;
    expect(secrets.nats.password).toMatch(/^[0-9a-f]{48}$/);
    expect(secrets.influx.password).toMatch(/^[0-9a-f]{48}$/);
    expect(secrets.nats.password).not.toBe(secrets.influx.password);
    expect(splitCredentials(s.natsUrl).credentials).toEqual(secrets.nats);
    expect(splitCredentials(s.influxUrl).credentials).toEqual(secrets.influx);
  });

  it("refuses a NATS client without them, or with a wrong password", async () => {
    const bare = `nats://127.0.0.1:${s.natsPort}`;
    await expect(connect({ servers: bare, reconnect: false })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: bare, user: "footfall", pass: "not-the-password", reconnect: false })).rejects.toThrow(/authorization/i);
    const nc = await connectNats(s.natsUrl, "credentials-test");
    await provisionNats(nc, { leaseTtlMs: 3000 });
    expect((await (await jetstreamManager(nc)).getAccountInfo()).streams).toBeGreaterThan(0);
    await nc.close();
  });

  it("refuses an InfluxDB query without them (only /ping answers)", async () => {
    const bare = `http://127.0.0.1:${s.influxPort}`;
    expect((await fetch(`${bare}/ping`)).status).toBe(204);
    const q = await fetch(`${bare}/query?q=${encodeURIComponent("SHOW DATABASES")}`);
    expect(q.status).toBe(401);
    const w = await fetch(`${bare}/write?db=footfall`, { method: "POST", body: "m v=1" });
    expect(w.status).toBe(401);
    const wrong = await fetch(`${bare}/query?q=${encodeURIComponent("SHOW DATABASES")}&u=footfall&p=not-the-password`);
    expect(wrong.status).toBe(401);
    const influx = influxClient(s.influxUrl, "cred_t");
    await provisionInflux(influx, { influxDb: "cred_t", rawRetention: "30d", rollupRetention: "INF" });
    expect(await influx.getDatabaseNames()).toContain("cred_t");
  });

  it("a process run by hand on the same data folder finds them (natsUrlOf, influxUrlOf)", async () => {
    const cfg = loadConfig({ dataDir: s.dataDir, natsPort: s.natsPort, influxPort: s.influxPort }, {});
    const nc = await connectNats(natsUrlOf(cfg), "credentials-test");
    await (await jetstreamManager(nc)).getAccountInfo();
    await nc.close();
    expect(await influxClient(influxUrlOf(cfg), "cred_t").getDatabaseNames()).toContain("cred_t");
  });

  it("an operator's own servers work with the credentials given in NATS_URL and INFLUX_URL", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-ext-"));
    otherDirs.push(dir);
    // another data folder, no secrets of its own: only the URLs carry the credentials
    const cfg = loadConfig({}, { FOOTFALL_DATA_DIR: dir, NATS_URL: s.natsUrl, INFLUX_URL: s.influxUrl });
    expect(natsUrlOf(cfg)).toBe(s.natsUrl);
    expect(readServiceSecrets(dir)).toBeUndefined();
    const nc = await connectNats(natsUrlOf(cfg), "credentials-test");
    await provisionNats(nc, { leaseTtlMs: 3000 });
    await nc.close();
    expect(await influxClient(influxUrlOf(cfg), "cred_t").getDatabaseNames()).toContain("cred_t");
  });

  it("keeps them across restarts of the services on the same data folder", async () => {
    const before = readServiceSecrets(s.dataDir);
    await s.restartNats({ downMs: 0 });
    expect(readServiceSecrets(s.dataDir)).toEqual(before);
    const nc = await connectNats(s.natsUrl, "credentials-test");
    await (await jetstreamManager(nc)).getAccountInfo();
    await nc.close();
  });
});
