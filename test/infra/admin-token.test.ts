/**
 * The built-in admin token is published in these sources: a process that accepts it refuses to
 * start when it listens on anything but loopback.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, checkAdminToken, isLoopback, loadConfig } from "../../infra/config.ts";
import { runApi } from "../../api/main.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = path.join(ROOT, "infra", "cli", "footfall.js");

/** Runs the CLI with `env`, ended after `ms` if it is still running. */
function cli(args: string[], env: Record<string, string>, ms = 30_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

describe("the default admin token off loopback", () => {
  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) expect(isLoopback(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.org", "128.0.0.1"]) expect(isLoopback(h), h).toBe(false);
  });

  it("is refused with a message naming the variables; a token of one's own, or loopback, is fine", () => {
    expect(() => checkAdminToken({ adminToken: DEFAULTS.adminToken, bind: "0.0.0.0" })).toThrow(ConfigError);
    expect(() => checkAdminToken({ adminToken: DEFAULTS.adminToken, bind: "0.0.0.0" })).toThrow(/FOOTFALL_ADMIN_TOKEN.*FOOTFALL_BIND is 0\.0\.0\.0/);
    expect(() => checkAdminToken({ adminToken: DEFAULTS.adminToken, bind: "127.0.0.1" })).not.toThrow();
    expect(() => checkAdminToken({ adminToken: "a-token-of-my-own", bind: "0.0.0.0" })).not.toThrow();
  });

  it("runApi refuses to start before it connects anywhere", async () => {
    const cfg = loadConfig({ bind: "0.0.0.0", natsUrl: "nats://127.0.0.1:1", logLevel: "silent" }, {});
    await expect(runApi(cfg)).rejects.toThrow(/built-in development token is refused/);
  });

  it("`footfall api` and `footfall up` exit 2 with the reason", async () => {
    for (const cmd of ["api", "up"]) {
      const r = await cli([cmd], { FOOTFALL_BIND: "0.0.0.0", FOOTFALL_ADMIN_TOKEN: "", FOOTFALL_LOG_LEVEL: "silent" });
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/FOOTFALL_ADMIN_TOKEN \(adminToken\): the built-in development token is refused when FOOTFALL_BIND is 0\.0\.0\.0/);
    }
  });
});
