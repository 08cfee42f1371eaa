/**
 * The live feed on the API process, against the real stack: nats-server, influxd, the broker
 * and API in this process, an actor host as a child process; crossings go in over HTTP ingest
 * and come out of the actors into FF_EVENTS; clients are real `ws` sockets over TCP.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { LiveClose, type ServerMessage, type Snapshot } from "../../contracts/live-protocol.ts";
import { STREAM_EVENTS, occupancyEventSubject, personEventSubject, siteOccupancyEventSubject, trackEventSubject } from "../../contracts/nats-layout.ts";
import type { PersonUpdate, TrackUpdate } from "../../contracts/events.ts";
import { KeyStore } from "../../access/key-store.ts";
import { connectNats } from "../../infra/nats.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";
import { freePort } from "../support/ports.ts";
import { isDevice, isHeartbeat, isRefusal, isResumed, isSnapshot, isUpdate, LiveTestClient } from "./live-test-client.ts";

const SITE = "mall";
const SECRET = { "dpu-front": "front-door-secret", "dpu-cafe": "cafe-door-secret" } as const;
const MAX_BUFFER = 16 * 1024;
/** failed logins from one address before it is banned (tests of other refusals stay below it) */
const BAN_AFTER = 6;
const HEARTBEAT_MS = 400;
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");

describe("the live feed (websocket /api/v1/live on the API)", () => {
  let stack: TestStack;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let keys: KeyStore;
  let mallKey: string;
  let crossingId = 0;
  const open: LiveTestClient[] = [];

  const connect = async (headers: Record<string, string>) => {
    const c = await LiveTestClient.open(stack.apiUrl, headers);
    open.push(c);
    return c;
  };
  const asViewer = () => connect(LiveTestClient.bearer(mallKey));

  /** One crossing through HTTP ingest (API -> JetStream -> doorway, space, site actors -> FF_EVENTS). */
  async function cross(device: keyof typeof SECRET, doorway: string, delta: 1 | -1): Promise<void> {
    const r = await fetch(`${stack.apiUrl}/api/v1/dpus/${device}/crossings`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`${device}:${SECRET[device]}`).toString("base64")}`, "content-type": "application/json" },
      body: JSON.stringify({ id: `c-${++crossingId}`, ts: Date.now(), doorway, delta }),
    });
    expect(r.status).toBe(201);
  }

  const rest = async (path: string) => {
    const r = await fetch(`${stack.apiUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${stack.cfg.adminToken}` } });
    expect(r.status).toBe(200);
    return (await r.json()) as { count: number };
  };

  /** The stream's newest occupancy event of a space (its seq and count), if any. */
  async function lastEvent(subject: string): Promise<{ seq: number; count: number } | undefined> {
    const m = await jsm.streams.getMessage(STREAM_EVENTS, { last_by_subj: subject });
    return m ? { seq: m.seq, count: m.json<{ count: number }>().count } : undefined;
  }

  /** Waits until the space's REST count and its newest event both say `count`; returns that event's seq. */
  async function settled(space: string, count: number): Promise<number> {
    let seq = 0;
    await eventually(`${space} settled at ${count}`, async () => {
      const [r, e] = await Promise.all([rest(`/sites/${SITE}/spaces/${space}/count`), lastEvent(occupancyEventSubject(SITE, space))]);
      seq = e?.seq ?? 0;
      return r.count === count && e?.count === count;
    }, 60_000);
    return seq;
  }

  async function snapshotAtLeast(seq: number, extra: Parameters<LiveTestClient["subscribe"]>[1] = {}): Promise<Snapshot> {
    let snap: Snapshot | undefined;
    await eventually(`a snapshot covering event ${seq}`, async () => {
      const c = await asViewer();
      c.subscribe(SITE, extra);
      snap = await c.next("snapshot", isSnapshot);
      await c.close();
      return snap.seq >= seq;
    }, 30_000);
    return snap!;
  }

  beforeAll(async () => {
    stack = await startTestStack({
      hosts: 1,
      overrides: {
        liveMaxBufferBytes: MAX_BUFFER, liveSlowMs: 1000, livePingMs: 120_000, liveHeartbeatMs: HEARTBEAT_MS, liveDeviceMs: 200, liveResumeS: 600,
        authFreeFailures: 1, authDelayMs: 10, authMaxDelayMs: 20, authBanAfter: BAN_AFTER, authBanS: 600,
      },
    });
    const topo = await stack.admin("PUT", `/api/v1/sites/${SITE}/topology`, {
      spaces: [{ id: "lobby", name: "Lobby", capacity: 2 }, { id: "cafe", name: "Café <b>", capacity: 40 }],
      doorways: [
        { id: "front", entering_to: "lobby", exiting_to: "outside" },
        { id: "cafe-door", entering_to: "cafe", exiting_to: "lobby" },
      ],
      devices: [
        { id: "dpu-front", kind: "dpu", doorway: "front", secret: SECRET["dpu-front"] },
        { id: "dpu-cafe", kind: "dpu", doorway: "cafe-door", secret: SECRET["dpu-cafe"] },
      ],
    });
    expect(topo.status).toBe(200);
    const other = await stack.admin("PUT", "/api/v1/sites/other/topology", { spaces: [{ id: "hall", name: "Hall" }], doorways: [] });
    expect(other.status).toBe(200);
    nc = await connectNats(stack.cfg.natsUrl!, "live-test");
    jsm = await jetstreamManager(nc);
    keys = await KeyStore.open(nc);
    mallKey = (await keys.create({ role: "viewer", sites: [SITE], name: "mall wall" })).key;
  });

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    keys?.close();
    await nc?.close();
    await stack?.stop();
  });

  it("refuses a socket without a key, or with a key that is not one, with 4401", async () => {
    for (const headers of [{}, LiveTestClient.bearer("ffk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAA"), { cookie: "ff_key=nonsense" }]) {
      const c = await connect(headers);
      const refusal = await c.next("refusal", isRefusal);
      expect(refusal.code).toBe(LiveClose.unauthorized);
      expect(refusal.reason).toMatch(/credential|not a valid key/);
      expect((await c.closed).code).toBe(LiveClose.unauthorized);
    }
  });

  it("bans an address after wrong keys: 4429 with a reason, unchecked, even for the right key; another address is served", async () => {
    const attacker = { localAddress: "127.0.0.21" };
    for (let i = 0; i < BAN_AFTER; i++) {
      const c = await LiveTestClient.open(stack.apiUrl, LiveTestClient.bearer(`ffk_000000000000_WRONGWRONGWRONGWRONG${i}`), attacker);
      open.push(c);
      expect((await c.next("refusal", isRefusal)).code).toBe(LiveClose.unauthorized);
    }
    const banned = await LiveTestClient.open(stack.apiUrl, LiveTestClient.bearer(mallKey), attacker);
    open.push(banned);
    const refusal = await banned.next("refusal", isRefusal);
    expect(refusal).toMatchObject({ code: LiveClose.tooManyLogins, reason: expect.stringContaining("too many failed logins from 127.0.0.21") });
    expect((await banned.closed).code).toBe(LiveClose.tooManyLogins);
    const metrics = await (await fetch(`${stack.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^footfall_auth_throttled_total\{surface="http",scope="address",outcome="banned"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^footfall_live_disconnects_total\{reason="throttled"[^}]*\} 1$/m);
    const fine = await connect({ ...LiveTestClient.bearer(mallKey) });
    fine.subscribe(SITE);
    expect((await fine.next("snapshot", isSnapshot)).site).toBe(SITE);
    await fine.close();
  });

  it("refuses a subscribe to a site the key does not cover with 4403, and a malformed one with 4400", async () => {
    const c = await asViewer();
    c.subscribe("other");
    const refusal = await c.next("refusal", isRefusal);
    expect(refusal).toMatchObject({ code: LiveClose.forbidden, reason: expect.stringContaining("other") });
    expect((await c.closed).code).toBe(LiveClose.forbidden);

    const bad = await asViewer();
    bad.ws.send(JSON.stringify({ v: 99, op: "subscribe", site: SITE }));
    expect((await bad.next("refusal", isRefusal)).code).toBe(LiveClose.badRequest);
    expect((await bad.closed).code).toBe(LiveClose.badRequest);
  });

  it("honours the wall's cookie from its own origin only", async () => {
    const host = new URL(stack.apiUrl).host;
    const same = await connect({ cookie: `ff_key=${encodeURIComponent(mallKey)}`, origin: `http://${host}` });
    same.subscribe(SITE);
    expect((await same.next("snapshot", isSnapshot)).site).toBe(SITE);
    await same.close();

    const cross = await connect({ cookie: `ff_key=${encodeURIComponent(mallKey)}`, origin: "http://evil.example" });
    expect((await cross.next("refusal", isRefusal)).code).toBe(LiveClose.forbidden);
    expect((await cross.closed).code).toBe(LiveClose.forbidden);
  });

  it("snapshot: every space's count, capacity and name equal to the REST API, the site total, DPU health", async () => {
    await cross("dpu-front", "front", 1);
    await cross("dpu-front", "front", 1);
    await cross("dpu-front", "front", 1);
    await cross("dpu-cafe", "cafe-door", 1);
    const lobbySeq = await settled("lobby", 2);
    const cafeSeq = await settled("cafe", 1);
    await eventually("site total 3", async () => (await rest(`/sites/${SITE}/count`)).count === 3 && (await lastEvent(siteOccupancyEventSubject(SITE)))?.count === 3, 60_000);
    const totalSeq = (await lastEvent(siteOccupancyEventSubject(SITE)))!.seq;

    const snap = await snapshotAtLeast(Math.max(lobbySeq, cafeSeq, totalSeq));
    const byId = new Map(snap.spaces.map((s) => [s.space, s]));
    for (const space of ["lobby", "cafe"]) {
      expect(byId.get(space)!.count).toBe((await rest(`/sites/${SITE}/spaces/${space}/count`)).count);
    }
    expect(snap.total.count).toBe((await rest(`/sites/${SITE}/count`)).count);
    expect(byId.get("lobby")).toMatchObject({ name: "Lobby", capacity: 2, count: 2 });
    expect(byId.get("cafe")).toMatchObject({ name: "Café <b>", capacity: 40, count: 1 });
    expect(snap.alerts).toEqual([]);
    const dpus = new Map(snap.devices.map((d) => [d.device, d]));
    expect(dpus.get("dpu-front")).toMatchObject({ kind: "dpu", state: "online" });
    expect(dpus.get("dpu-cafe")).toMatchObject({ kind: "dpu", state: "online" });
  });

  it("an update follows a crossing, and a capacity alert opens; the snapshot then lists it", async () => {
    const c = await asViewer();
    c.subscribe(SITE);
    const snap = await c.next("snapshot", isSnapshot);
    const lobby = snap.spaces.find((s) => s.space === "lobby")!.count;
    await cross("dpu-front", "front", 1);
    const u = await c.next("lobby update", (m) => isUpdate(m) && m.event.type === "occupancy.changed" && m.event.space === "lobby");
    expect(isUpdate(u) && u.seq > snap.seq).toBe(true);
    expect(isUpdate(u) && u.event.type === "occupancy.changed" && u.event.count).toBe(lobby + 1);
    const alert = await c.next("capacity alert", (m) => isUpdate(m) && m.event.type === "alert.capacity");
    expect(isUpdate(alert) && alert.event).toMatchObject({ type: "alert.capacity", space: "lobby", state: "over", count: lobby + 1, capacity: 2 });
    await c.next("site total update", (m) => isUpdate(m) && m.event.type === "site_occupancy.changed");
    expect(c.malformed).toEqual([]);

    const after = await snapshotAtLeast(isUpdate(alert) ? alert.seq : 0);
    expect(after.alerts).toEqual([expect.objectContaining({ space: "lobby", state: "over" })]);
    await c.close();
  });

  it("a space filter sends only that space's counts", async () => {
    const c = await asViewer();
    c.subscribe(SITE, { spaces: ["cafe"] });
    const snap = await c.next("snapshot", isSnapshot);
    expect(snap.spaces.map((s) => s.space)).toEqual(["cafe"]);
    await cross("dpu-front", "front", -1);
    await cross("dpu-cafe", "cafe-door", 1);
    const u = await c.next("an occupancy update", (m) => isUpdate(m) && m.event.type === "occupancy.changed");
    expect(isUpdate(u) && u.event.type === "occupancy.changed" && u.event.space).toBe("cafe");
    await c.close();
    // the next test reads its "before" counts from the REST API: the spaces and the site total
    // must have settled (the site actor may see the two spaces' changes in either order)
    await settled("cafe", 2);
    await settled("lobby", 1);
    await eventually("site total 3", async () => (await rest(`/sites/${SITE}/count`)).count === 3 && (await lastEvent(siteOccupancyEventSubject(SITE)))?.count === 3, 60_000);
  });

  it("resume with since: Resumed, then exactly the updates missed (none doubled, none missing), then live", async () => {
    // a witness stays connected the whole time and sees every update live
    const witness = await asViewer();
    witness.subscribe(SITE);
    const wsnap = await witness.next("snapshot", isSnapshot);

    const a = await asViewer();
    a.subscribe(SITE);
    const snap = await a.next("snapshot", isSnapshot);
    await a.close();
    const since = snap.seq;

    const lobbyBefore = (await rest(`/sites/${SITE}/spaces/lobby/count`)).count;
    const cafeBefore = (await rest(`/sites/${SITE}/spaces/cafe/count`)).count;
    const totalBefore = (await rest(`/sites/${SITE}/count`)).count;
    await cross("dpu-front", "front", 1);
    await cross("dpu-front", "front", 1);
    await cross("dpu-cafe", "cafe-door", 1);
    const lastSeq = Math.max(await settled("lobby", lobbyBefore + 1), await settled("cafe", cafeBefore + 1));
    // at least: the REST total read above may not yet have had an earlier test's last crossing
    await eventually("site total", async () => ((await lastEvent(siteOccupancyEventSubject(SITE)))?.count ?? -1) >= totalBefore + 2, 60_000);
    const newest = Math.max(lastSeq, (await lastEvent(siteOccupancyEventSubject(SITE)))!.seq);
    // everything the site published after `since`, as the witness got it live
    await witness.next("the witness saw the newest event", (m) => isUpdate(m) && m.seq >= newest);
    const missed = witness.messages.filter(isUpdate).map((m) => m.seq).filter((s) => s > since && s <= newest);
    // a space count, another space's count, the site total at least
    expect(missed.length).toBeGreaterThanOrEqual(3);
    expect(wsnap.seq).toBeLessThanOrEqual(since);

    const b = await asViewer();
    b.subscribe(SITE, { since });
    const resumed = await b.next("resumed", isResumed);
    expect(resumed).toMatchObject({ site: SITE, since });
    expect(b.messages.some(isSnapshot)).toBe(false);
    const replayed: number[] = [];
    while (replayed.length < missed.length) {
      const u = await b.next("a replayed update", isUpdate);
      replayed.push(u.seq);
    }
    expect(replayed).toEqual(missed);
    // after the replay: every device's state, then live updates continue with no repeat
    await b.next("device states after the replay", isDevice);
    await cross("dpu-cafe", "cafe-door", 1);
    const live = await b.next("a live update", (m) => isUpdate(m) && m.event.type === "occupancy.changed" && m.event.space === "cafe" && m.event.count === cafeBefore + 2);
    const liveSeq = isUpdate(live) ? live.seq : 0;
    expect(liveSeq).toBeGreaterThan(missed[missed.length - 1]!);
    const got = b.messages.filter(isUpdate).map((m) => m.seq).filter((s) => s <= liveSeq);
    expect(new Set(got).size).toBe(got.length);
    // the resumed client has exactly what the witness got live after `since`
    await witness.next("the witness saw the live update", (m) => isUpdate(m) && m.seq === liveSeq);
    expect(got).toEqual(witness.messages.filter(isUpdate).map((m) => m.seq).filter((s) => s > since && s <= liveSeq));
    await Promise.all([b.close(), witness.close()]);
  });

  it("a since beyond the stream gets a snapshot", async () => {
    const c = await asViewer();
    c.subscribe(SITE, { since: 10_000_000 });
    const first = await c.next("first answer", (m: ServerMessage) => isSnapshot(m) || isResumed(m));
    expect(first.t).toBe("snapshot");
    await c.close();
  });

  it("heartbeats: one right after the snapshot, then every interval on a quiet site, behind the updates; none before a subscribe", async () => {
    const idle = await asViewer();
    const c = await asViewer();
    c.subscribe(SITE);
    const snap = await c.next("snapshot", isSnapshot);
    const first = await c.next("heartbeat", isHeartbeat, 5000);
    expect(first.seq).toBeGreaterThanOrEqual(snap.seq);
    expect(first.every).toBe(HEARTBEAT_MS);
    // nothing crosses meanwhile: heartbeats keep coming, their server time moving on
    const later = [await c.next("heartbeat", isHeartbeat, 5000), await c.next("heartbeat", isHeartbeat, 5000)];
    expect(later[0]!.now).toBeGreaterThan(first.now);
    expect(later[1]!.now).toBeGreaterThan(later[0]!.now);
    // a crossing's update comes before the next heartbeat, whose seq covers it
    const before = c.messages.length;
    await cross("dpu-cafe", "cafe-door", 1);
    const update = await c.next("the crossing's update", (m): m is Extract<ServerMessage, { t: "update" }> =>
      isUpdate(m) && m.event.type === "occupancy.changed" && m.event.space === "cafe");
    const hb = await c.next("a heartbeat after the update", isHeartbeat, 5000);
    expect(hb.seq).toBeGreaterThanOrEqual(update.seq);
    expect(c.messages.slice(before).indexOf(update)).toBeLessThan(c.messages.slice(before).indexOf(hb));
    // a socket that has not subscribed gets none
    expect(idle.messages).toEqual([]);
    expect(c.malformed).toEqual([]);
    await cross("dpu-cafe", "cafe-door", -1);
  });

  it("live people: a person.update in FF_EVENTS is in the next snapshot until it ends", async () => {
    const js = jetstream(nc);
    const person = (ended: boolean): PersonUpdate => ({
      type: "person.update", site: SITE, person: "p7", at: [Date.now(), 3.5, 4.25], space: "lobby", distance_m: 12.5,
      attrs: { upper: { value: "blue", conf: 0.9 } }, ended,
    });
    const ack = await js.publish(personEventSubject(SITE), JSON.stringify(person(false)));
    const snap = await snapshotAtLeast(ack.seq);
    expect(snap.people).toEqual([expect.objectContaining({ person: "p7", at: [expect.any(Number), 3.5, 4.25], attrs: { upper: { value: "blue", conf: 0.9 } } })]);
    const end = await js.publish(personEventSubject(SITE), JSON.stringify(person(true)));
    expect((await snapshotAtLeast(end.seq)).people).toEqual([]);
  });

  it("a DPU's first crossing turns it from unknown to online (a DeviceUpdate)", async () => {
    const put = await stack.admin("PUT", `/api/v1/sites/${SITE}/topology`, {
      spaces: [{ id: "lobby", name: "Lobby", capacity: 2 }, { id: "cafe", name: "Café <b>", capacity: 40 }],
      doorways: [
        { id: "front", entering_to: "lobby", exiting_to: "outside" },
        { id: "cafe-door", entering_to: "cafe", exiting_to: "lobby" },
        { id: "side", entering_to: "lobby", exiting_to: "outside" },
      ],
      devices: [
        { id: "dpu-front", kind: "dpu", doorway: "front", secret: SECRET["dpu-front"] },
        { id: "dpu-cafe", kind: "dpu", doorway: "cafe-door", secret: SECRET["dpu-cafe"] },
        { id: "dpu-side", kind: "dpu", doorway: "side", secret: "side-door-secret" },
      ],
    });
    expect(put.status).toBe(200);
    const c = await asViewer();
    c.subscribe(SITE);
    const snap = await c.next("snapshot", isSnapshot);
    expect(snap.devices.find((d) => d.device === "dpu-side")).toMatchObject({ state: "unknown", lastSeen: null });
    const r = await fetch(`${stack.apiUrl}/api/v1/dpus/dpu-side/crossings`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("dpu-side:side-door-secret").toString("base64")}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "side-1", ts: Date.now(), doorway: "side", delta: 1 }),
    });
    expect(r.status).toBe(201);
    const d = await c.next("dpu-side online", (m) => isDevice(m) && m.device.device === "dpu-side");
    expect(isDevice(d) && d.device).toMatchObject({ kind: "dpu", state: "online", lastSeen: expect.any(Number) });
    await c.close();
  });

  it("a stalled client is cut off with 4408 while another keeps receiving every update", async () => {
    const js = jetstream(nc);
    const healthy = await asViewer();
    healthy.subscribe(SITE);
    await healthy.next("snapshot", isSnapshot);
    const stalled = await asViewer();
    stalled.subscribe(SITE);
    await stalled.next("snapshot", isSnapshot);
    // stop reading: the server's writes pile up in the kernel, then in its send buffer
    stalled.ws.pause();

    // big frames from many cameras (each camera a distinct entity, so nothing can be coalesced)
    const boxes = Array.from({ length: 60 }, (_, i): [string, number, number, number, number] => [`t${i}`, i, i + 1, i + 50, i + 120]);
    const published: number[] = [];
    const tooSlow = async () => {
      const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
      return /footfall_live_disconnects_total\{reason="too_slow"[^}]*\} [1-9]/.test(text);
    };
    for (let batch = 0; batch < 200 && !(await tooSlow()); batch++) {
      const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => {
        const n = batch * 100 + i;
        const ev: TrackUpdate = {
          type: "track.update", site: SITE, camera: `cam-${n}`, seq: n, frameTs: Date.now(), receivedAt: Date.now(),
          tracks: [["t1", "o1", 1, 2]], boxes,
        };
        return js.publish(trackEventSubject(SITE, `cam-${n}`), JSON.stringify(ev));
      }));
      published.push(...acks.map((a) => a.seq));
      await healthy.next(`batch ${batch} at the healthy client`, (m) => isUpdate(m) && m.seq === acks[acks.length - 1]!.seq);
    }
    expect(await tooSlow()).toBe(true);
    const got = new Set(healthy.messages.filter(isUpdate).map((m) => m.seq));
    expect(published.filter((s) => !got.has(s))).toEqual([]);
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);

    // reading again, the stalled client finds the refusal and the close behind what was buffered
    stalled.ws.resume();
    const closed = await stalled.closed;
    expect(closed.code).toBe(LiveClose.tooSlow);
    expect(closed.reason).toMatch(/too slow/);
    expect(stalled.messages.filter(isRefusal)).toEqual([expect.objectContaining({ code: LiveClose.tooSlow })]);
    await healthy.close();
  });

  it("a key revoked while connected ends its socket with 4409", async () => {
    const created = await keys.create({ role: "viewer", sites: [SITE], name: "soon revoked" });
    const c = await connect(LiveTestClient.bearer(created.key));
    c.subscribe(SITE);
    await c.next("snapshot", isSnapshot);
    expect(await keys.revoke(created.id)).toBe(true);
    expect((await c.closed).code).toBe(LiveClose.revoked);
    expect(c.messages.filter(isRefusal)).toEqual([expect.objectContaining({ code: LiveClose.revoked })]);
  });

  it("`footfall gateway` runs alone: /healthz, the API's snapshot, a too-old since gets a snapshot, a socket missing pings is cut; SIGTERM closes sockets with 1001", async () => {
    const cafe = (await rest(`/sites/${SITE}/spaces/cafe/count`)).count;
    await cross("dpu-cafe", "cafe-door", 1);
    await settled("cafe", cafe + 1);
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, "gateway"], {
      env: {
        ...process.env,
        NATS_URL: stack.cfg.natsUrl, INFLUX_URL: stack.cfg.influxUrl, FOOTFALL_DATA_DIR: stack.cfg.dataDir,
        FOOTFALL_INFLUX_DB: stack.cfg.influxDb, FOOTFALL_ADMIN_TOKEN: stack.cfg.adminToken,
        FOOTFALL_LEASE_TTL_MS: String(stack.cfg.leaseTtlMs), FOOTFALL_GATEWAY_PORT: String(port),
        // nothing is recent enough to replay: every since older than the feed's position gets a snapshot
        FOOTFALL_LIVE_RESUME_S: "0", FOOTFALL_LIVE_PING_MS: "1000", FOOTFALL_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => { process.off("exit", killOnExit); r(code); }));
    const base = `http://127.0.0.1:${port}`;
    try {
      let health: Record<string, unknown> = {};
      await eventually("the gateway's /healthz", async () => {
        const r = await fetch(`${base}/healthz`);
        health = (await r.json()) as Record<string, unknown>;
        return r.status === 200;
      }, 60_000);
      expect(health).toMatchObject({ ok: true, nats: "connected", feed: "following" });
      expect((await fetch(`${base}/nope`)).status).toBe(404);

      // the same state as the API's feed and its REST counts
      const c = await LiveTestClient.open(base, LiveTestClient.bearer(mallKey));
      open.push(c);
      c.subscribe(SITE);
      const snap = await c.next("snapshot", isSnapshot);
      const onApi = await snapshotAtLeast(snap.seq);
      for (const s of snap.spaces) {
        expect(s.count).toBe((await rest(`/sites/${SITE}/spaces/${s.space}/count`)).count);
      }
      expect(snap.total.count).toBe((await rest(`/sites/${SITE}/count`)).count);
      expect(snap.spaces).toEqual(onApi.spaces);
      expect(snap.total).toEqual(onApi.total);
      expect(snap.alerts).toEqual(onApi.alerts);

      const old = await LiveTestClient.open(base, LiveTestClient.bearer(mallKey));
      open.push(old);
      old.subscribe(SITE, { since: snap.seq - 1 });
      expect((await old.next("first answer", (m: ServerMessage) => isSnapshot(m) || isResumed(m))).t).toBe("snapshot");

      // a socket that does not answer pings is cut off; the others (answering) stay
      const deaf = await LiveTestClient.open(base, LiveTestClient.bearer(mallKey), { autoPong: false });
      open.push(deaf);
      deaf.subscribe(SITE);
      await deaf.next("snapshot", isSnapshot);
      expect((await deaf.closed).code).toBe(1006);
      expect(c.ws.readyState).toBe(c.ws.OPEN);

      const metrics = (await (await fetch(`${base}/metrics`)).text()).split("\n").filter((l) => l.startsWith("footfall_live_")).join("\n");
      expect(metrics, metrics).toMatch(/footfall_live_clients\{site="mall"[^}]*\} 2/);
      expect(metrics, metrics).toMatch(/footfall_live_disconnects_total\{reason="heartbeat"[^}]*\} 1/);

      child.kill("SIGTERM");
      const [closed, closedOld] = await Promise.all([c.closed, old.closed]);
      expect(closed.code).toBe(LiveClose.goingAway);
      expect(closed.reason).toMatch(/shutting down/);
      expect(closedOld.code).toBe(LiveClose.goingAway);
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
