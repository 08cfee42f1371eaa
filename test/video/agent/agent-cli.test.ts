/**
 * `footfall agent` and `footfall agent detect` as a user starts them (the real CLI): the chunker's
 * data folder defaults to {FOOTFALL_DATA_DIR}/agent/{camera}, the help shows both commands, and
 * bad options, unknown options and a missing secret exit 2 with the reason (commander's errors
 * on stderr, the processes' own checks in their JSON log on stdout).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentArgs } from "../agent-cli.ts";
import { makeTestSource } from "../media.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-agent-cli-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 3 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

/** runs the CLI to its end (async: the test worker stays responsive while it runs) */
function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: "", FOOTFALL_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("footfall agent", () => {
  it("records into {FOOTFALL_DATA_DIR}/agent/{camera} when --data is not given", async () => {
    const dataDir = path.join(tmp, "footfall-data");
    const r = await run(agentArgs("--camera", "cam-cli", "--source", src, "--segment", "1"), { FOOTFALL_DATA_DIR: dataDir, FOOTFALL_CAMERA_SECRET: "cli-secret" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const chunks = path.join(dataDir, "agent", "cam-cli", "chunks");
    expect((await readdir(chunks)).filter((n) => n.endsWith(".json")).length).toBeGreaterThanOrEqual(2);
  });

  it("shows both commands and the default data folder in its help", () => {
    const r = spawnSync(process.execPath, agentArgs("--help"), { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--data <dir>[\s\S]*\$FOOTFALL_DATA_DIR\/agent\/\{camera\}/);
    expect(r.stdout).toMatch(/Commands:\s+detect \[options\]/);
    const d = spawnSync(process.execPath, agentArgs("detect", "--help"), { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(/Usage: footfall agent detect/);
    expect(d.stdout).toMatch(/--max-in-flight <n>/);
  });

  it("exits 2 on bad options, unknown options and a missing secret, with the reason", async () => {
    const secret = { FOOTFALL_CAMERA_SECRET: "cli-secret" };
    const base = ["--camera", "cam-cli", "--source", src, "--data", path.join(tmp, "bad")];
    for (const [args, env, reason] of [
      [agentArgs("--source", src), secret, /required option '--camera <id>' not specified/],
      [agentArgs("--camera", "cam-cli"), secret, /required option '--source <path\|url>' not specified/],
      [agentArgs(...base, "--bogus"), secret, /unknown option '--bogus'/],
      [agentArgs(...base), {}, /no camera secret/],
      [agentArgs(...base, "--segment", "0"), secret, /--segment must be seconds/],
      [agentArgs(...base, "--format", "avi"), secret, /--format must be mp4, mkv or ts/],
      [agentArgs(...base, "--mqtt", "mqtt://127.0.0.1:1"), secret, /--mqtt needs --api/],
      [agentArgs("--camera", "../up", "--source", src), secret, /--camera must be 1-64 characters/],
      [agentArgs("detect", "--site", "s1", "--source", src), secret, /required option '--camera <id>' not specified/],
      [agentArgs("detect", "--camera", "cam-cli", "--site", "s1", "--source", src, "--fps", "0"), secret, /--fps must be > 0/],
      [agentArgs("detect", "--camera", "cam-cli", "--site", "s1", "--source", src, "--ops-port", "70000"), secret, /--ops-port must be a port number/],
    ] as const) {
      const r = await run([...args], env);
      expect([args.slice(1).join(" "), r.code]).toEqual([args.slice(1).join(" "), 2]);
      expect(r.stdout + r.stderr).toMatch(reason);
    }
    expect(existsSync(path.join(tmp, "bad"))).toBe(false);
  });
});
