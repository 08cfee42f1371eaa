import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import type { z } from "zod";
import { CapacityAlert, OccupancyChanged, PersonUpdate, SiteOccupancyChanged } from "../../contracts/events.ts";
import { OUT_OFFLINE, OUT_ONLINE } from "../../contracts/mqtt-out.ts";
import {
  haSensorConfigTopic, outAlertsTopic, outOccupancyTopic, outPersonTopic, outSiteTopic, outStatusTopic,
} from "../../contracts/topics.ts";
import type { Logger } from "../../infra/log.ts";
import { counter } from "../../infra/metrics.ts";
import { issueLines } from "../../infra/zod-issues.ts";
import { EventFeed, type FeedMessage } from "./event-feed.ts";
import type { CountHistory } from "./history-counts.ts";
import { capacityAlertMessage, haSensorConfig, occupancyMessage, personMessage, siteMessage, type Count } from "./out-messages.ts";
import { SiteDirectory, type SiteInfo } from "./site-directory.ts";

/** Publishes one message to this broker's MQTT subscribers (aedes, as the server); resolves once handed over. */
export type OutPublish = (topic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }) => Promise<void>;

export interface ResultsOutOptions {
  nc: NatsConnection;
  publish: OutPublish;
  log: Logger;
  metrics: Registry;
  /** counts FF_EVENTS no longer holds (optional: without it such spaces get no retained count until they change) */
  history?: CountHistory;
  /** longest wait for the history at start (default 5 s) */
  historyTimeoutMs?: number;
  /** longest wait for the last-per-subject catch-up at start (default 30 s) */
  catchUpTimeoutMs?: number;
}

export interface ResultsOut {
  /** "following" once the current counts are published, "lost" while NATS is away */
  readonly state: "starting" | "following" | "lost";
  /** Publishes "offline" on every site's status topic and stops following. */
  stop(): Promise<void>;
}

interface Known extends Count { seq: number }

const decoder = new TextDecoder();
const empty = "";

/**
 * Results back over MQTT. Follows FF_EVENTS (one ordered consumer, see EventFeed) and the
 * topology (SiteDirectory), and publishes into this broker's aedes:
 *   out/occupancy/{space}, out/site   retained, the current counts, with names and capacities
 *   out/alerts, out/person            live only
 *   out/status                        retained, online / offline
 *   homeassistant/sensor/footfall_{site}/{space}/config   retained, for sites that switched it on
 * start() returns once every retained topic is right: the last event of each subject is read
 * (and, for counts older than FF_EVENTS keeps, the history asked), so the caller opens the
 * listener only then. Spaces that leave the topology, and sites that switch discovery off, get
 * empty retained messages (the retained value is removed; Home Assistant removes the sensor).
 * Only results of spaces in the topology are published; a count arriving first is kept for when
 * its space appears.
 */
export async function startResultsOut(o: ResultsOutOptions): Promise<ResultsOut> {
  const log = o.log.child({ component: "results" });
  const published = counter(o.metrics, "footfall_broker_results_published_total", "results published to MQTT subscribers, by topic kind", ["kind"]);
  const skipped = counter(o.metrics, "footfall_broker_results_skipped_total", "FF_EVENTS messages the results did not use, by reason", ["reason"]);

  const spaces = new Map<string, Map<string, Known>>();
  const sites = new Map<string, Known>();
  /** what each retained topic holds now (JSON), so an unchanged value is not sent again */
  const retained = new Map<string, string>();
  let state: ResultsOut["state"] = "starting";
  let stopping = false;

  const send = (kind: string, topic: string, payload: string, retain: boolean, qos: 0 | 1) => {
    if (retain) {
      if ((retained.get(topic) ?? empty) === payload) return;
      if (payload === empty) retained.delete(topic);
      else retained.set(topic, payload);
    }
    published.inc({ kind });
    o.publish(topic, payload, { retain, qos }).catch((err: unknown) => log.warn({ err, topic }, "result not published"));
  };

  const directory = await SiteDirectory.open(o.nc, log);

  function publishSpace(site: string, space: string): void {
    if (state === "starting") return;
    const info = directory.get(site)?.spaces.get(space);
    const c = spaces.get(site)?.get(space);
    if (!info || !c) return;
    send("occupancy", outOccupancyTopic(site, space), JSON.stringify(occupancyMessage(site, space, c, info)), true, 1);
  }

  function publishSite(site: string): void {
    if (state === "starting" || !directory.get(site)) return;
    const c = sites.get(site);
    if (c) send("site", outSiteTopic(site), JSON.stringify(siteMessage(site, c)), true, 1);
  }

  /** Brings every retained topic of the site in line with its topology (and clears what it no longer has). */
  function publishSiteInfo(site: string, now: SiteInfo | undefined, before: SiteInfo | undefined): void {
    if (state === "starting") return;
    for (const space of before?.spaces.keys() ?? []) {
      if (now?.spaces.has(space)) continue;
      send("occupancy", outOccupancyTopic(site, space), empty, true, 1);
      send("discovery", haSensorConfigTopic(site, space), empty, true, 1);
    }
    if (!now) {
      send("site", outSiteTopic(site), empty, true, 1);
      send("status", outStatusTopic(site), empty, true, 1);
      return;
    }
    send("status", outStatusTopic(site), state === "following" ? OUT_ONLINE : OUT_OFFLINE, true, 1);
    for (const [space, info] of now.spaces) {
      publishSpace(site, space);
      const config = now.homeAssistant ? JSON.stringify(haSensorConfig(site, space, info.name)) : empty;
      send("discovery", haSensorConfigTopic(site, space), config, true, 1);
    }
    publishSite(site);
  }

  function parse<T>(schema: z.ZodType<T>, m: FeedMessage): T | undefined {
    let json: unknown;
    try { json = JSON.parse(decoder.decode(m.data)); } catch (err) {
      skipped.inc({ reason: "invalid" });
      log.warn({ subject: m.subject, seq: m.seq, err }, "event is not JSON; skipped");
      return undefined;
    }
    const r = schema.safeParse(json);
    if (r.success) return r.data;
    skipped.inc({ reason: "invalid" });
    log.warn({ subject: m.subject, seq: m.seq, reason: issueLines(r.error).join("; ") }, "event does not match its contract; skipped");
    return undefined;
  }

  function onEvent(m: FeedMessage): void {
    const type = m.subject.split(".")[1];
    switch (type) {
      case "occupancy": {
        const e = parse(OccupancyChanged, m);
        if (!e) return;
        let bySpace = spaces.get(e.site);
        if (!bySpace) spaces.set(e.site, bySpace = new Map());
        if ((bySpace.get(e.space)?.seq ?? -1) >= m.seq) return;
        bySpace.set(e.space, { count: e.count, at: e.at, seq: m.seq });
        return publishSpace(e.site, e.space);
      }
      case "site_occupancy": {
        const e = parse(SiteOccupancyChanged, m);
        if (!e || (sites.get(e.site)?.seq ?? -1) >= m.seq) return;
        sites.set(e.site, { count: e.count, at: e.at, seq: m.seq });
        return publishSite(e.site);
      }
      case "alert": {
        if (m.seq <= feed.startSeq) return void skipped.inc({ reason: "past" });
        const e = parse(CapacityAlert, m);
        if (!e) return;
        const name = directory.get(e.site)?.spaces.get(e.space)?.name;
        return send("alert", outAlertsTopic(e.site), JSON.stringify(capacityAlertMessage(e, name)), false, 1);
      }
      case "person": {
        if (m.seq <= feed.startSeq) return void skipped.inc({ reason: "past" });
        const e = parse(PersonUpdate, m);
        if (!e) return;
        return send("person", outPersonTopic(e.site), JSON.stringify(personMessage(e)), false, 0);
      }
      default:
        return; // camera tracks, ingest rates: not results for MQTT readers
    }
  }

  /** Counts of spaces (and sites) the events stream no longer holds, from history. */
  async function fillFromHistory(siteIds: string[]): Promise<void> {
    if (!o.history) return;
    for (const site of siteIds) {
      const info = directory.get(site);
      if (!info) continue;
      const missing = [...info.spaces.keys()].filter((s) => !spaces.get(site)?.has(s));
      if (missing.length === 0 && sites.has(site)) continue;
      try {
        const h = await o.history.siteCounts(site);
        // events may have arrived meanwhile: they win
        let bySpace = spaces.get(site);
        if (!bySpace) spaces.set(site, bySpace = new Map());
        // seq 0: any event, however old, is newer than history
        for (const s of missing) if (!bySpace.has(s)) bySpace.set(s, { ...(h.spaces.get(s) ?? { count: 0, at: null }), seq: 0 });
        if (!sites.has(site)) sites.set(site, { ...(h.site ?? { count: 0, at: null }), seq: 0 });
        log.info({ site, spaces: missing.length }, "counts without a recent event taken from history");
      } catch (err) {
        log.warn({ err, site, spaces: missing }, "history unavailable: these spaces get a retained count at their next change");
      }
    }
  }

  const feed = new EventFeed(o.nc, jetstream(o.nc), onEvent, log);
  await feed.start();
  const catchUp = o.catchUpTimeoutMs ?? 30_000;
  const timedOut = await Promise.race([
    feed.caughtUp.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), catchUp).unref()),
  ]);
  if (timedOut) log.warn({ position: feed.position() }, "results not caught up with FF_EVENTS in time; publishing what is known");

  const bounded = (p: Promise<void>, ms: number) => Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
  const filling = fillFromHistory([...directory.all()].map((s) => s.site));
  await bounded(filling, o.historyTimeoutMs ?? 5000);

  state = "following";
  const publishAll = () => { for (const info of directory.all()) publishSiteInfo(info.site, info, undefined); };
  publishAll();
  log.info({ sites: spaces.size, position: feed.position() }, "results published; following FF_EVENTS");
  // history that answered late: what it filled in goes out now (unchanged topics are not sent again)
  void filling.then(() => { if (!stopping) publishAll(); });

  /** spaces that appear later and have no count yet: ask history (once per change) */
  directory.follow((site, now, before) => {
    publishSiteInfo(site, now, before);
    if (now && [...now.spaces.keys()].some((s) => !spaces.get(site)?.has(s))) {
      void fillFromHistory([site]).then(() => { if (!stopping) publishSiteInfo(site, directory.get(site), undefined); });
    }
  });

  const setStatus = (s: "following" | "lost") => {
    if (state === s || stopping) return;
    state = s;
    log.warn({ state: s }, s === "lost" ? "results lost NATS: status offline" : "results following again: status online");
    for (const info of directory.all()) send("status", outStatusTopic(info.site), s === "following" ? OUT_ONLINE : OUT_OFFLINE, true, 1);
  };
  void (async () => {
    for await (const s of o.nc.status()) {
      if (s.type === "disconnect") setStatus("lost");
      else if (s.type === "reconnect") setStatus("following");
    }
  })().catch(() => {});

  let stopped: Promise<void> | undefined;
  return {
    get state() { return state; },
    stop() {
      stopped ??= (async () => {
        const offline = [...directory.all()].map((info) => {
          retained.set(outStatusTopic(info.site), OUT_OFFLINE);
          return o.publish(outStatusTopic(info.site), OUT_OFFLINE, { retain: true, qos: 1 }).catch(() => {});
        });
        stopping = true;
        directory.close();
        await bounded(Promise.all(offline).then(() => {}), 2000);
        await feed.stop();
      })();
      return stopped;
    },
  };
}
