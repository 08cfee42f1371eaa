import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { backoffDelay } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { killOnExit } from "../process.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "cli", "footfall.js");
/** a process that keeps dying is restarted after 0.5 s, 1 s, 2 s ... at most 10 s */
const RESTART_BACKOFF = { baseMs: 500, maxMs: 10_000, jitter: 0 };

/**
 * Runs one footfall process (`footfall broker|host|api|agent …`: `args` are the CLI's) as a child,
 * restarting it with back-off if it dies, until stop() (SIGTERM, then SIGKILL after a grace period).
 * Children share our stdout/stderr, so their JSON log lines reach the console.
 */
export class Supervised {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private exitWaiters: Array<() => void> = [];

  constructor(readonly name: string, private readonly args: string[], private readonly env: NodeJS.ProcessEnv, private readonly log: Logger) {}

  start(): void {
    // own process group: Ctrl-C reaches `footfall up` only, which stops the children in order
    const child = spawn(process.execPath, [CLI, ...this.args], { env: this.env, stdio: ["ignore", "inherit", "inherit"], detached: true });
    this.child = child;
    // its own process group: if `footfall up` itself ends without stop(), take the child along
    const forget = killOnExit(child);
    child.once("exit", (code, signal) => {
      forget();
      this.child = undefined;
      for (const w of this.exitWaiters.splice(0)) w();
      if (this.stopping) return;
      this.restarts++;
      const delay = backoffDelay(this.restarts, RESTART_BACKOFF);
      this.log.error({ proc: this.name, code, signal, restartInMs: delay }, "process exited; restarting");
      setTimeout(() => { if (!this.stopping) this.start(); }, delay).unref();
    });
  }

  get pid(): number | undefined { return this.child?.pid; }

  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((r) => this.exitWaiters.push(r));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(t);
  }
}
