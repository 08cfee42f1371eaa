import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, loadConfig, readVariable, VARIABLES } from "../../infra/config.ts";
import { withConfigTable } from "../../infra/config-table.ts";
import { sourceFiles } from "../tree/import-graph.ts";

describe("configuration", () => {
  it("takes defaults, then the environment, then explicit overrides", () => {
    const cfg = loadConfig({ partitions: 4 }, { FOOTFALL_HTTP_PORT: "9090", FOOTFALL_PARTITIONS: "8", NATS_URL: "nats://10.0.0.5:4222" });
    expect(cfg.httpPort).toBe(9090);
    expect(cfg.partitions).toBe(4);
    expect(cfg.natsUrl).toBe("nats://10.0.0.5:4222");
    expect(cfg.influxUrl).toBeUndefined();
    expect(cfg.mqttPort).toBe(DEFAULTS.mqttPort);
  });

  it("refuses bad values naming the variable and the reason", () => {
    const bad = () => loadConfig({}, { FOOTFALL_MQTT_PORT: "70000", FOOTFALL_ADMIN_TOKEN: "short", FOOTFALL_RAW_RETENTION: "30 days" });
    expect(bad).toThrow(ConfigError);
    try { bad(); } catch (e) {
      const problems = (e as ConfigError).problems.join("\n");
      expect(problems).toMatch(/FOOTFALL_MQTT_PORT \(mqttPort\)/);
      expect(problems).toMatch(/FOOTFALL_ADMIN_TOKEN \(adminToken\): must be at least 8 characters/);
      expect(problems).toMatch(/FOOTFALL_RAW_RETENTION \(rawRetention\): an InfluxDB duration/);
    }
  });
});

describe("configuration declared once", () => {
  const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

  it("docs/configuration.md holds the table generated from infra/config.ts (npm run docs:config)", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8");
    expect(withConfigTable(doc)).toBe(doc);
    for (const v of Object.values(VARIABLES)) expect(doc).toContain(`| \`${v.env}\` |`);
  });

  it("every default passes its own schema", () => {
    for (const [key, v] of Object.entries(VARIABLES)) {
      expect(v.schema.safeParse(v.default).success, key).toBe(true);
    }
  });

  it("reads one variable alone with its default and its check", () => {
    expect(readVariable("linkerWaitMs", {})).toBe(DEFAULTS.linkerWaitMs);
    expect(readVariable("linkerWaitMs", { FOOTFALL_LINKER_WAIT_MS: "1500" })).toBe(1500);
    expect(() => readVariable("logLevel", { FOOTFALL_LOG_LEVEL: "loud" })).toThrow(/FOOTFALL_LOG_LEVEL \(logLevel\)/);
  });

  it("no product code reads a footfall variable from the environment but through infra/config.ts", () => {
    const names = new Set(Object.values(VARIABLES).map((v) => v.env));
    const readers: string[] = [];
    for (const file of sourceFiles(ROOT)) {
      if (file.startsWith("test/") || file === "infra/config.ts" || file === "vitest.config.ts") continue;
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      for (const m of text.matchAll(/process\.env\.([A-Z_]+)|process\.env\[["']([A-Z_]+)["']\]/g)) {
        const name = m[1] ?? m[2]!;
        if (names.has(name) || name.startsWith("FOOTFALL_")) readers.push(`${file}: ${name}`);
      }
    }
    expect(readers).toEqual([]);
  });
});
