import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { eventually } from "../support/retry.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** The footfall CLI as users run it (bin: infra/cli/footfall.js registers tsx in its own process). */
const CLI = path.join(ROOT, "infra/cli/footfall.js");

/**
 * node's arguments for `footfall agent …` (the chunking and upload process) or, with "detect"
 * first, `footfall agent detect …`: one node process, so a signal to the child reaches the agent.
 */
export const agentArgs = (...args: string[]): string[] => [CLI, "agent", ...args];

export type Health = { status: number; body: Record<string, unknown> };

export interface AgentProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** its JSON log lines so far */
  lines(): Array<Record<string, unknown>>;
  /** GET /healthz on its ops port (from its "ops port listening" line; start it with --ops-port 0) */
  health(): Promise<Health>;
  /** polls health() until `want` holds (a state, never a time); returns that answer */
  healthWhen(what: string, want: (h: Health) => boolean): Promise<Health>;
}

/** `footfall agent …` as a child process, logging at info; killed if the test process exits first. */
export function startAgentProcess(args: string[], env: NodeJS.ProcessEnv): AgentProcess {
  const child = spawn(process.execPath, agentArgs(...args), {
    cwd: ROOT, env: { ...process.env, FOOTFALL_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => { process.off("exit", killOnExit); r(code); }));
  const lines = () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const health = async (): Promise<Health> => {
    const ops = lines().find((l) => l.msg === "ops port listening")?.ops;
    if (typeof ops !== "string") throw new Error("no ops port yet");
    const r = await fetch(`http://${ops}/healthz`);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const healthWhen = async (what: string, want: (h: Health) => boolean): Promise<Health> => {
    let seen: Health | undefined;
    await eventually(what, async () => {
      seen = await health();
      return want(seen);
    }, 90_000, 50);
    return seen!;
  };
  return { child, exited, output: () => out, lines, health, healthWhen };
}
