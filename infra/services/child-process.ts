import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../log.ts";
import { killOnExit } from "../process.ts";

/** A service binary we run as a child process, its output appended to a log file under the data dir. */
export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now (failure tests). */
  kill(): Promise<void>;
  exited(): boolean;
  /** resolves when the process has exited (or failed to start) */
  whenExited(): Promise<void>;
}

export function spawnService(opts: {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  log?: Logger;
}): ServiceProcess {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const out = fs.openSync(opts.logFile, "a");
  // own process group: a Ctrl-C in the terminal reaches only `footfall up`, which stops the
  // services last, after the actor host has flushed and checkpointed
  const child = spawn(opts.command, opts.args, { stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  let exited = false;
  // the child is in its own process group, so nothing else stops it if we end without stop():
  // kill it when this process exits (a crash, process.exit, a failed test run)
  const forget = killOnExit(child);
  const done = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      forget();
      opts.log?.info({ service: opts.name, code, signal }, "service exited");
      resolve();
    });
    child.once("error", (err) => {
      exited = true;
      forget();
      opts.log?.error({ service: opts.name, err }, "service failed to start");
      resolve();
    });
  });
  const stopWith = async (signal: NodeJS.Signals, graceMs: number) => {
    if (exited) return;
    child.kill(signal);
    const t = setTimeout(() => { if (!exited) child.kill("SIGKILL"); }, graceMs);
    await done;
    clearTimeout(t);
  };
  return {
    name: opts.name,
    child,
    stop: (graceMs = 10_000) => stopWith("SIGTERM", graceMs),
    kill: () => stopWith("SIGKILL", 0),
    exited: () => exited,
    whenExited: () => done,
  };
}

/** Polls `probe` until it resolves true, or throws after timeoutMs naming the service and its log. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, proc?: ServiceProcess, logFile?: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc?.exited()) break;
    try { if (await probe()) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  let tail = "";
  if (logFile && fs.existsSync(logFile)) tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n");
  throw new Error(`${what} did not become healthy within ${timeoutMs} ms${proc?.exited() ? " (process exited)" : ""}${tail ? `; last log lines:\n${tail}` : ""}`);
}

/** Finds the binary on PATH or in the sbin folders Debian uses (nats-server lives in /usr/sbin). */
export function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"];
  for (const d of dirs) {
    const p = path.join(d, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  throw new Error(`${name} not found: run \`npm run setup\` (installs Debian's nats-server, influxdb, ffmpeg, mosquitto-clients; needs root or sudo)`);
}
