import { z } from "zod";
import { SiteId, SpaceId } from "./ids.ts";
import { DeviceKind } from "./device.ts";
import { CapacityAlert, FootfallEvent, PersonUpdate } from "./events.ts";

/**
 * The live feed: websocket /api/v1/live (API process or `footfall gateway`), JSON text frames.
 *
 * Authentication: `Authorization: Bearer <key>` on the upgrade request, or the wall's HttpOnly
 * cookie `ff_key`; a viewer key must cover the site subscribed to. The upgrade itself always
 * succeeds (a browser cannot read an upgrade's HTTP status): a missing or invalid credential is
 * answered with a Refusal and close code 4401, another site with 4403. A cookie is honoured
 * only from a page of the same origin (the upgrade's Origin names the Host it is sent to).
 *
 *  client -> server  Subscribe (at any time; a new one replaces the previous)
 *  server -> client  Snapshot                       after a Subscribe without `since`, or when
 *                                                   `since` is too old to replay
 *                    Resumed, then the missed Updates   after a Subscribe with a replayable `since`
 *                    Update ...                     every event for the site, in stream order;
 *                                                   coalesced per entity for a slow client
 *                    DeviceUpdate ...               a device's health changed (not in the stream:
 *                                                   no seq; after Resumed the current state of
 *                                                   every device follows the missed Updates)
 *                    Heartbeat                      right after the Snapshot / the resumed Updates,
 *                                                   then every `every` ms while subscribed, in
 *                                                   order with the Updates: the client has
 *                                                   everything the gateway had read when sent
 *                    Refusal                        then the socket is closed with `code`
 *
 * `seq` is the FF_EVENTS stream sequence: a client remembers the newest it saw and sends it as
 * `since` when it reconnects. Updates are sent in increasing `seq`; applying every Update with
 * seq > snapshot.seq to a Snapshot gives the current state (every event carries a whole state:
 * a count, a total, an alert's state, a person's newest position, a camera frame's tracks).
 * A Snapshot may arrive at any time (a resume that could not be completed falls back to one);
 * it replaces everything the client held.
 *
 * A browser cannot see websocket pings, and a quiet site sends no Updates: the Heartbeat is how a
 * client tells a quiet feed from a dead socket. A client that has heard nothing (no message of
 * any kind) for a few `every` should close the socket and reconnect with `since`.
 *
 * People leave a Snapshot once their newest update is older than the person silence
 * (FOOTFALL_PERSON_SILENCE_S); a client drops a person it has not heard of for that long too.
 */
export const LIVE_PROTOCOL_VERSION = 1;
export const LIVE_PATH = "/api/v1/live";
/** The largest message a client may send (bytes); a bigger one closes the socket (1009). */
export const LIVE_MAX_CLIENT_MESSAGE_BYTES = 128 * 1024;

export const Subscribe = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  op: z.literal("subscribe"),
  site: SiteId,
  /** only these spaces' occupancy and alerts (default: all) */
  spaces: z.array(SpaceId).max(1000).optional(),
  /** only these cameras' track updates (default: all) */
  cameras: z.array(z.string().max(64)).max(1000).optional(),
  /** the newest seq this client saw: replay what came after, if still kept */
  since: z.number().int().nonnegative().optional(),
});
export type Subscribe = z.infer<typeof Subscribe>;
export const ClientMessage = Subscribe;
export type ClientMessage = Subscribe;

export const SpaceState = z.strictObject({
  space: SpaceId,
  name: z.string(),
  count: z.number().int().nonnegative(),
  capacity: z.number().int().positive().nullable(),
  /** event time of the count (epoch ms); null if never counted, or counted before the stream's day */
  at: z.number().int().nullable(),
});
export type SpaceState = z.infer<typeof SpaceState>;

/**
 * A device's health. Cameras: "offline" after their last will, "silent" when no heartbeat or
 * frame came for a minute, else "online". DPUs and doors send only crossings: "online" while
 * their newest crossing is at most FOOTFALL_DPU_SILENT_S old, then "silent"; "unknown": never heard.
 */
export const DeviceState = z.strictObject({
  device: z.string(),
  kind: DeviceKind,
  state: z.enum(["online", "offline", "silent", "unknown"]),
  /** epoch ms of the newest message heard (a DPU's: its newest crossing's event time), null if never */
  lastSeen: z.number().int().nullable(),
});
export type DeviceState = z.infer<typeof DeviceState>;

export const Snapshot = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  t: z.literal("snapshot"),
  site: SiteId,
  /** the state includes every event up to this stream sequence */
  seq: z.number().int().nonnegative(),
  /** server time (epoch ms) */
  now: z.number().int(),
  total: z.strictObject({ count: z.number().int().nonnegative(), at: z.number().int().nullable() }),
  spaces: z.array(SpaceState),
  /** people seen recently and not ended, newest position each */
  people: z.array(PersonUpdate),
  devices: z.array(DeviceState),
  /** spaces over capacity right now */
  alerts: z.array(CapacityAlert),
});
export type Snapshot = z.infer<typeof Snapshot>;

export const Resumed = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  t: z.literal("resumed"),
  site: SiteId,
  /** Updates with seq > since follow */
  since: z.number().int().nonnegative(),
});
export type Resumed = z.infer<typeof Resumed>;

export const Update = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  t: z.literal("update"),
  seq: z.number().int().nonnegative(),
  event: FootfallEvent,
});
export type Update = z.infer<typeof Update>;

/** Device health changes (computed by the gateway every few seconds). */
export const DeviceUpdate = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  t: z.literal("device"),
  site: SiteId,
  device: DeviceState,
});
export type DeviceUpdate = z.infer<typeof DeviceUpdate>;

/**
 * The feed is alive (sent to every subscribed client every FOOTFALL_LIVE_HEARTBEAT_MS, queued
 * behind the client's unsent Updates, so it arrives only when the client is current).
 */
export const Heartbeat = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  t: z.literal("heartbeat"),
  /** server time (epoch ms) */
  now: z.number().int(),
  /** the stream sequence the gateway had read when sent (informational: not a `since`, as the client's filter may leave events out) */
  seq: z.number().int().nonnegative(),
  /** the interval until the next Heartbeat (ms) */
  every: z.number().int().positive(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

/** Close codes (4000-4999 are the application's). */
export const LiveClose = {
  /** a message that is not a Subscribe of this version */
  badRequest: 4400,
  /** no credential, or not a valid key */
  unauthorized: 4401,
  /** the key does not cover the site (or a cookie was sent from another origin) */
  forbidden: 4403,
  /** the site has no topology */
  notFound: 4404,
  /** the client did not read fast enough: its send buffer stayed above the bound */
  tooSlow: 4408,
  /** the key used was revoked */
  revoked: 4409,
  /** too many failed logins from this address (or with this key id): try again later */
  tooManyLogins: 4429,
  /** the server is shutting down: reconnect (to another gateway) with `since` */
  goingAway: 1001,
} as const;

export const Refusal = z.strictObject({
  v: z.literal(LIVE_PROTOCOL_VERSION),
  t: z.literal("refused"),
  code: z.number().int(),
  reason: z.string(),
});
export type Refusal = z.infer<typeof Refusal>;

export const ServerMessage = z.discriminatedUnion("t", [Snapshot, Resumed, Update, DeviceUpdate, Heartbeat, Refusal]);
export type ServerMessage = z.infer<typeof ServerMessage>;
