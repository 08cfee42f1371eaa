import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A small network of "machines" for fault tests: one Linux network namespace per node, all on one
 * bridge (in a hub namespace of its own), and a veth from this process's namespace into the hub so
 * the test itself can reach every node. Nothing outside the namespaces it makes is touched but the
 * one veth end it adds here. Needs root (CAP_NET_ADMIN) and iproute2.
 *
 *   test process (10.N.M.254) ── hub bridge ── node-1 (10.N.M.1), node-2 (.2), node-3 (.3) …
 *
 * isolate(node) takes the node's cable out of the bridge (a partition: the node sees nobody and
 * nobody sees it, its processes keep running); heal(node) puts it back.
 */
export interface LabNode {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** Runs a command inside this node's namespace (its pid is the command's: `ip netns exec` execs it). */
  spawn(command: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** The argv prefix that runs a command inside this node (for code that spawns by itself). */
  readonly prefix: string[];
  isolate(): Promise<void>;
  heal(): Promise<void>;
  /** SIGKILL every process in the namespace (a whole machine lost). */
  killAll(): Promise<void>;
}

export interface Lab {
  readonly nodes: LabNode[];
  /** this process's address on the lab network (bind here to be reachable from the nodes) */
  readonly hostIp: string;
  destroy(): Promise<void>;
}

let labs = 0;

/** True when this process may create network namespaces (root with iproute2). */
export async function canMakeNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const probe = `ffprobe${process.pid % 10000}`;
  try {
    await run("ip", ["netns", "add", probe]);
    await run("ip", ["netns", "del", probe]);
    return true;
  } catch {
    return false;
  }
}

export async function createLab(opts: { nodes: number }): Promise<Lab> {
  // names unique per process and lab (interface names are at most 15 characters)
  const tag = `${(process.pid % 1000).toString(36)}${(labs++).toString(36)}`;
  const subnet = `10.${200 + (labs % 50)}.${process.pid % 250}`;
  const hub = `ffhub${tag}`;
  const made: string[] = [];
  const ip = (...args: string[]) => run("ip", args);
  /** every namespace is deleted, even when a process in one will not die (it then stays, reported) */
  const destroy = async () => {
    const problems: string[] = [];
    for (const ns of [...made].reverse()) {
      await killNamespace(ns).catch((e: Error) => problems.push(e.message));
      await ip("netns", "del", ns).catch((e: Error) => problems.push(`ip netns del ${ns}: ${e.message}`));
    }
    made.length = 0;
    if (problems.length > 0) throw new Error(`fault lab not fully removed: ${problems.join("; ")}`);
  };
  // a test run that ends without destroy() must not leave namespaces (or their processes) behind
  const onExit = () => {
    for (const ns of [...made].reverse()) {
      try {
        const pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
        for (const pid of pids) try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
        execFileSync("ip", ["netns", "del", ns]);
      } catch { /* best effort */ }
    }
  };
  process.once("exit", onExit);
  try {
    await ip("netns", "add", hub);
    made.push(hub);
    await ip("-n", hub, "link", "set", "lo", "up");
    await ip("-n", hub, "link", "add", "br0", "type", "bridge");
    await ip("-n", hub, "link", "set", "br0", "up");

    // this process's own cable into the hub
    const hostIf = `ffh${tag}`;
    await ip("link", "add", hostIf, "type", "veth", "peer", "name", `${hostIf}p`);
    await ip("link", "set", `${hostIf}p`, "netns", hub);
    await ip("-n", hub, "link", "set", `${hostIf}p`, "master", "br0");
    await ip("-n", hub, "link", "set", `${hostIf}p`, "up");
    await ip("addr", "add", `${subnet}.254/24`, "dev", hostIf);
    await ip("link", "set", hostIf, "up");

    const nodes: LabNode[] = [];
    for (let i = 1; i <= opts.nodes; i++) {
      const ns = `ffn${tag}x${i}`;
      const inner = `ffv${tag}x${i}`;
      const outer = `${inner}p`;
      await ip("netns", "add", ns);
      made.push(ns);
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("link", "add", inner, "type", "veth", "peer", "name", outer);
      await ip("link", "set", inner, "netns", ns);
      await ip("link", "set", outer, "netns", hub);
      await ip("-n", hub, "link", "set", outer, "master", "br0");
      await ip("-n", hub, "link", "set", outer, "up");
      await ip("-n", ns, "addr", "add", `${subnet}.${i}/24`, "dev", inner);
      await ip("-n", ns, "link", "set", inner, "up");
      const prefix = ["ip", "netns", "exec", ns];
      nodes.push({
        name: `node-${i}`,
        ns,
        ip: `${subnet}.${i}`,
        prefix,
        spawn: (command, args, o = {}) => spawn("ip", ["netns", "exec", ns, command, ...args], o),
        isolate: async () => { await ip("-n", hub, "link", "set", outer, "down"); },
        heal: async () => { await ip("-n", hub, "link", "set", outer, "up"); },
        killAll: () => killNamespace(ns),
      });
    }
    return {
      nodes,
      hostIp: `${subnet}.254`,
      destroy: async () => { await destroy(); process.off("exit", onExit); },
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** SIGKILL every process living in the namespace, and wait until none is left. */
async function killNamespace(ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { stdout } = await run("ip", ["netns", "pids", ns]).catch(() => ({ stdout: "" }));
    const pids = stdout.split(/\s+/).filter(Boolean).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`processes in namespace ${ns} did not die`);
}
