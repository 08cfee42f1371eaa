import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** mosquitto_sub processes still running: killed if the test process exits without stopping them */
const running = new Set<ChildProcess>();
process.once("exit", () => { for (const c of running) c.kill("SIGKILL"); });

/** One line mosquitto_sub printed with -F "%r %t %p": retained flag, topic, payload (may be empty). */
export interface SubLine { retained: boolean; topic: string; payload: string }

/**
 * Debian's mosquitto_sub as a child process: every message it prints is parsed into `lines`.
 * waitFor() resolves with the first line (from `from` on) that matches; exited resolves with the
 * exit code and stderr when it ends (refused log-in, all subscriptions denied, disconnected).
 */
export interface MosquittoSub {
  lines: SubLine[];
  waitFor(match: (l: SubLine) => boolean, what: string, from?: number, timeoutMs?: number): Promise<SubLine>;
  exited: Promise<{ code: number | null; stderr: string }>;
  stop(): Promise<void>;
}

export function mosquittoSub(port: number, username: string, password: string, topics: string[], extra: string[] = []): MosquittoSub {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-u", username, "-P", password, "-q", "1", "-F", "%r %t %p", ...extra];
  for (const t of topics) args.push("-t", t);
  const child: ChildProcess = spawn("mosquitto_sub", args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const lines: SubLine[] = [];
  const waiters = new Set<() => void>();
  let out = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    let nl: number;
    while ((nl = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      const [flag, topic, ...rest] = line.split(" ");
      lines.push({ retained: flag === "1", topic: topic ?? "", payload: rest.join(" ") });
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => { stderr += chunk; });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once("exit", (code) => {
    running.delete(child);
    for (const w of waiters) w();
    resolve({ code, stderr });
  }));

  return {
    lines,
    exited,
    waitFor(match, what, from = 0, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.slice(from).find(match);
          if (found) { done(); resolve(found); return; }
          if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`mosquitto_sub ended before ${what}: ${stderr.trim()} ${JSON.stringify(lines)}`));
          }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(lines)}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** mosquitto_pub once; rejects (with stderr in the message) if it exits non-zero. */
export async function mosquittoPub(port: number, username: string, password: string, topic: string, payload: string, extra: string[] = []): Promise<void> {
  await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-u", username, "-P", password, "-q", "1", "-t", topic, "-m", payload, ...extra]);
}
