import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canMakeNamespaces, createLab, type Lab, type LabNode } from "../support/netns.ts";

/**
 * The fault lab itself: three namespaces that reach each other and the test, a partition that
 * cuts one node off both ways while its processes run on, a heal, and a whole node killed.
 */
const ok = await canMakeNamespaces();

/** Resolves "open" when a TCP connection to ip:port is accepted within timeoutMs, else why not. */
function probe(ip: string, port: number, timeoutMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    const t = setTimeout(() => { s.destroy(); resolve("timeout"); }, timeoutMs);
    s.once("connect", () => { clearTimeout(t); s.destroy(); resolve("open"); });
    s.once("error", (e: NodeJS.ErrnoException) => { clearTimeout(t); resolve(e.code ?? "error"); });
  });
}

/** From inside `from`'s namespace: "open" when it reaches ip:port. */
function probeFrom(from: LabNode, ip: string, port: number): Promise<string> {
  const code = `const s=require("net").connect({host:${JSON.stringify(ip)},port:${port}});` +
    `const t=setTimeout(()=>{console.log("timeout");process.exit(0)},1500);` +
    `s.on("connect",()=>{console.log("open");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)});`;
  return new Promise((resolve, reject) => {
    const p = from.spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout!.on("data", (d) => (out += d));
    p.once("error", reject);
    p.once("exit", () => resolve(out.trim()));
  });
}

describe.skipIf(!ok)("the fault lab (network namespaces)", () => {
  let lab: Lab;
  const PORT = 7400;
  beforeAll(async () => {
    lab = await createLab({ nodes: 3 });
    for (const node of lab.nodes) {
      node.spawn(process.execPath, ["-e", `require("net").createServer(s=>s.end()).listen(${PORT},${JSON.stringify(node.ip)})`], { stdio: "ignore" });
    }
    for (const node of lab.nodes) {
      for (let i = 0; i < 50 && (await probe(node.ip, PORT)) !== "open"; i++) await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => { await lab?.destroy(); });

  it("every node reaches every other, and the test reaches them all", async () => {
    for (const node of lab.nodes) expect(await probe(node.ip, PORT)).toBe("open");
    expect(await probeFrom(lab.nodes[0]!, lab.nodes[1]!.ip, PORT)).toBe("open");
    expect(await probeFrom(lab.nodes[2]!, lab.nodes[0]!.ip, PORT)).toBe("open");
  });

  it("an isolated node reaches nobody and nobody reaches it; the others still talk; heal restores it", async () => {
    const [a, b, c] = lab.nodes as [LabNode, LabNode, LabNode];
    await b.isolate();
    expect(await probe(b.ip, PORT)).not.toBe("open");
    expect(await probeFrom(a, b.ip, PORT)).not.toBe("open");
    expect(await probeFrom(b, c.ip, PORT)).not.toBe("open");
    expect(await probeFrom(a, c.ip, PORT)).toBe("open");
    await b.heal();
    let seen = "";
    for (let i = 0; i < 30 && seen !== "open"; i++) seen = await probe(b.ip, PORT);
    expect(seen).toBe("open");
    expect(await probeFrom(b, c.ip, PORT)).toBe("open");
  });

  it("a whole node killed: its servers are gone, the others are not", async () => {
    const [a, , c] = lab.nodes as [LabNode, LabNode, LabNode];
    await c.killAll();
    expect(await probe(c.ip, PORT)).not.toBe("open");
    expect(await probe(a.ip, PORT)).toBe("open");
  });
});
