import { describe, expect, it } from "vitest";
import { ReadFence, UnsettledError, type FenceIo } from "../../../actors/runtime/read-fence.ts";

/** A stream whose leader answers from `leaders` in turn (the last one repeats), logging each step. */
function fakeStream(leaders: (string | undefined)[], opts: { barrierFails?: boolean } = {}) {
  const log: string[] = [];
  let i = 0;
  const io: FenceIo = {
    leader: async () => {
      const l = leaders[Math.min(i++, leaders.length - 1)];
      log.push(`leader:${l}`);
      return l;
    },
    barrier: async () => {
      log.push("barrier");
      if (opts.barrierFails) throw new Error("no answer from JetStream");
    },
  };
  return { io, log };
}

const noPause = async () => true;

describe("ReadFence", () => {
  it("reads a single-replica stream directly, without a barrier", async () => {
    const { io, log } = fakeStream([undefined]);
    const fence = new ReadFence(io, 8, noPause);
    expect(await fence.read(async () => { log.push("read"); return 7; })).toBe(7);
    expect(log).toEqual(["leader:undefined", "read"]);
  });

  it("on a replicated stream, reads only after the barrier was acknowledged and checks the leader after", async () => {
    const { io, log } = fakeStream(["n1"]);
    const fence = new ReadFence(io, 8, noPause);
    expect(await fence.read(async () => { log.push("read"); return "v"; })).toBe("v");
    expect(log).toEqual(["leader:n1", "barrier", "read", "leader:n1"]);
  });

  it("reads again when the leader changed during the round, and answers with the second read", async () => {
    const { io, log } = fakeStream(["n1", "n2", "n2"]);
    const fence = new ReadFence(io, 8, noPause);
    let n = 0;
    expect(await fence.read(async () => { log.push("read"); return ++n; })).toBe(2);
    expect(log).toEqual(["leader:n1", "barrier", "read", "leader:n2", "leader:n2", "barrier", "read", "leader:n2"]);
  });

  it("reads asked for during a round share the next round's barrier", async () => {
    const { io, log } = fakeStream(["n1"]);
    const fence = new ReadFence(io, 8, noPause);
    let release!: () => void;
    const first = fence.read(() => new Promise<string>((r) => { log.push("read a"); release = () => r("a"); }));
    await new Promise((r) => setTimeout(r, 5));
    const later = ["b", "c", "d"].map((x) => fence.read(async () => { log.push(`read ${x}`); return x; }));
    release();
    expect(await Promise.all([first, ...later])).toEqual(["a", "b", "c", "d"]);
    expect(log.filter((l) => l === "barrier")).toHaveLength(2);
    expect(log).toEqual(["leader:n1", "barrier", "read a", "leader:n1", "leader:n1", "barrier", "read b", "read c", "read d", "leader:n1"]);
  });

  it("waits while the stream has no leader and gives up after its attempts", async () => {
    const { io, log } = fakeStream([""]);
    const fence = new ReadFence(io, 3, noPause);
    await expect(fence.read(async () => { log.push("read"); return 1; })).rejects.toBeInstanceOf(UnsettledError);
    expect(log).toEqual(["leader:", "leader:", "leader:"]);
  });

  it("a failed read fails alone; a failed barrier fails every read of its round", async () => {
    const ok = fakeStream(["n1"]);
    const fence = new ReadFence(ok.io, 8, noPause);
    const [a, b] = await Promise.allSettled([fence.read(async () => { throw new Error("bad key"); }), fence.read(async () => 2)]);
    expect(a.status).toBe("rejected");
    expect(b).toEqual({ status: "fulfilled", value: 2 });

    const down = fakeStream(["n1"], { barrierFails: true });
    const fenced = new ReadFence(down.io, 8, noPause);
    const both = await Promise.allSettled([fenced.read(async () => 1), fenced.read(async () => 2)]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(down.log).not.toContain("read");
  });
});
