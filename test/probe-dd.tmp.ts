import fs from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectNats } from "/work/main/infra/nats.ts";
import { JetStreamPublisher } from "/work/main/infra/js-publish.ts";
import { startTestServices } from "/work/main/test/support/services.ts";
const WINDOW_S = Number(process.argv[2] ?? 600), N = Number(process.argv[3] ?? 1_000_000), IDS = process.argv[4] !== "noids";
const s = await startTestServices({ influx: false });
const rss = () => { const pid = s.nats!.proc.child.pid!; return Math.round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024); };
try {
  const nc = await connectNats(s.natsUrl, "dd");
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "D", subjects: ["d.>"], duplicate_window: WINDOW_S * 1e9, max_age: 7 * 86400e9 } as any);
  const pub = new JetStreamPublisher(nc, { maxInFlight: 512 });
  const before = rss();
  const body = JSON.stringify({ type: "crossing", site: "soak", doorway: "door-1", device: "dpu-01", eventId: "x".repeat(20), ts: Date.now(), delta: 1 });
  const t0 = Date.now();
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    ps.push(pub.publish(`d.${i % 100}`, body, IDS ? `dpu-soak-${i}:evt-${i}-abcdefgh` : undefined));
    if (ps.length >= 2000) { await Promise.all(ps); ps.length = 0; }
  }
  await Promise.all(ps);
  console.log(JSON.stringify({ windowS: WINDOW_S, n: N, ids: IDS, s: (Date.now() - t0) / 1000, rssBefore: before, rssAfter: rss() }));
  await nc.close();
} finally { await s.stop(); }
