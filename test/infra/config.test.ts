import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, loadConfig } from "../../infra/config.ts";

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
