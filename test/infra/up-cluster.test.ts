import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { STREAM_ACTORS, STREAM_EVENTS, KV_SNAPSHOTS } from "../../contracts/nats-layout.ts";
import { connectNats } from "../../infra/nats.ts";
import { readServiceSecrets, withCredentials } from "../../infra/service-secrets.ts";
import { upClusterEnv } from "../support/up-cluster-env.ts";
import { eventually, retry } from "../support/retry.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");

/** pids of the service processes started with a config under `dir` */
function servicePids(dir: string): Map<string, number> {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  const pids = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || !m[2]!.includes(dir)) continue;
    const conf = /(?:-c|-config) (\S+)/.exec(m[2]!)?.[1];
    if (conf && /(nats-server|influxd)$/.test(m[2]!.split(" ")[0]!)) pids.set(path.relative(dir, path.dirname(conf)), Number(m[1]));
  }
  return pids;
}

/** `footfall up --nodes 3` as a real process: the cluster, its replicas, its seed list; a node SIGKILLed comes back. */
describe("footfall up --nodes 3 (real processes)", () => {
  let dataDir: string;
  let up: ChildProcess;
  let out = "";
  let natsBase = 0;
  let httpPort = 0;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-up3-"));
    let env: NodeJS.ProcessEnv;
    ({ env, natsBase, httpPort } = await upClusterEnv(dataDir));
    up = spawn(process.execPath, [CLI, "up", "--nodes", "3"], { env, stdio: ["ignore", "pipe", "inherit"] });
    up.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    await eventually("footfall up's banner", () => out.includes("footfall is up."), 90_000, 200);
  });
  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up.once("exit", r));
      up.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs three nats-servers, prints the seed list, and replicates every stream and bucket three times", async () => {
    const seeds = [0, 1, 2].map((i) => `nats://127.0.0.1:${natsBase + i}`).join(",");
    expect(out).toContain(seeds);
    expect(out).not.toContain(readServiceSecrets(dataDir)!.nats.password);
    expect([...servicePids(dataDir).keys()].sort()).toEqual(["influxdb", "nats-cluster/n1", "nats-cluster/n2", "nats-cluster/n3"]);
    const nc = await connectNats(seeds.split(",").map((u) => withCredentials(u, readServiceSecrets(dataDir)!.nats)).join(","), "up-cluster-test");
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    for (const name of [STREAM_ACTORS, STREAM_EVENTS, `KV_${KV_SNAPSHOTS}`]) {
      expect((await retry(() => jsm.streams.info(name))).config.num_replicas, name).toBe(3);
    }
    await nc.close();
  });

  it("starts a SIGKILLed node again while the stack stays healthy; SIGTERM stops every service", async () => {
    const before = servicePids(dataDir).get("nats-cluster/n2")!;
    process.kill(before, "SIGKILL");
    await eventually("node 2 restarted", () => {
      const now = servicePids(dataDir).get("nats-cluster/n2");
      return now !== undefined && now !== before;
    }, 30_000);
    await eventually("the API healthy", async () => {
      const h = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { ok: boolean; nats: boolean };
      return h.ok && h.nats;
    }, 30_000);
    const exited = new Promise((r) => up.once("exit", r));
    up.kill("SIGTERM");
    await exited;
    expect(servicePids(dataDir).size).toBe(0);
  });
});
