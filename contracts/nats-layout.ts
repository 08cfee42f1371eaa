/**
 * Where things live in NATS. Created idempotently by infra/provision.ts.
 *
 * Stream FF_ACTORS  subjects act.{partition}.{kind}.{id...}: every actor's mailbox (device
 *                   messages bridged by the broker and actor-to-actor messages alike).
 * Stream FF_EVENTS  subjects evt.{type}.{site}.{...}: what dashboards and alerting consume.
 * KV ff_devices     device id -> DeviceRecord (the broker's registry).
 * KV ff_topology    site id -> Topology (spaces, doorways, devices without secrets).
 * KV ff_leases      p{n} -> host id; bucket TTL makes a dead host's lease expire.
 * KV ff_hosts       host id -> heartbeat (live actor hosts, for sharing partitions fairly).
 * KV ff_snapshots   a.{kind}.{id} -> actor snapshot {seq, state}; p{n} -> partition checkpoint {seq}.
 * KV ff_queries     query id -> a stored path/stats/heatmap query: parameters, answer summary, timing, result.
 * KV ff_jobs        job id -> a reprocessing job (attribute extraction over a stored range): state, progress.
 * KV ff_extraction  "{site}.{attribute}" -> time ranges re-extracted by finished jobs.
 * KV ff_keys        key id -> API key record (role, sites, sha256 of the key; never the key).
 * KV ff_stills      "{site}.{camera}" -> the camera agent's newest JPEG still (kept one minute).
 * KV ff_video_chunks "{camera}.{seq}" -> the chunk store's index entry of one video chunk (blobs on the shared data path).
 * KV ff_video_locks  name -> the process holding a chunk store job (the retention sweep); bucket TTL frees a dead holder's.
 * Plain subjects (not stored): svc.auth.{mqtt,http} failed and successful logins shared between
 *                   processes (contracts/login-news.ts); svc.extract.* the attribute extractor.
 */
export const STREAM_ACTORS = "FF_ACTORS";
export const STREAM_EVENTS = "FF_EVENTS";
export const ACTOR_SUBJECT_ROOT = "act";
export const EVENT_SUBJECT_ROOT = "evt";

export const KV_DEVICES = "ff_devices";
export const KV_TOPOLOGY = "ff_topology";
export const KV_LEASES = "ff_leases";
export const KV_HOSTS = "ff_hosts";
export const KV_SNAPSHOTS = "ff_snapshots";
export const KV_QUERIES = "ff_queries";
export const KV_JOBS = "ff_jobs";
export const KV_EXTRACTION = "ff_extraction";
export const KV_KEYS = "ff_keys";
export const KV_STILLS = "ff_stills";
export const KV_VIDEO_CHUNKS = "ff_video_chunks";
export const KV_VIDEO_LOCKS = "ff_video_locks";
/** How long a chunk store lock lives without being renewed (its holder renews it a few times within). */
export const VIDEO_LOCK_TTL_MS = 30_000;
/** How long a camera still is kept (never longer than the video it shows is kept). */
export const STILL_TTL_MS = 60_000;

/** Actor kinds of the occupancy slice. Actor ids are dot-joined tokens: "{site}.{entity}" or "{site}". */
export const ActorKinds = {
  doorway: "doorway", space: "space", site: "site",
  /** camera pipeline: "{site}.{camera}", "{site}", "{site}.{person}", "{site}.{space}" */
  camera: "camera", linker: "linker", person: "person", zone: "zone",
} as const;

/** FNV-1a 32-bit: stable across processes and versions (partition assignment depends on it). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const partitionOf = (kind: string, id: string, partitions: number) =>
  fnv1a(`${kind}:${id}`) % partitions;

export const actorSubject = (kind: string, id: string, partitions: number) =>
  `${ACTOR_SUBJECT_ROOT}.${partitionOf(kind, id, partitions)}.${kind}.${id}`;

export const partitionFilter = (partition: number) => `${ACTOR_SUBJECT_ROOT}.${partition}.>`;

export function parseActorSubject(subject: string): { partition: number; kind: string; id: string } | undefined {
  const t = subject.split(".");
  if (t.length < 4 || t[0] !== ACTOR_SUBJECT_ROOT) return undefined;
  const partition = Number(t[1]);
  if (!Number.isInteger(partition)) return undefined;
  return { partition, kind: t[2]!, id: t.slice(3).join(".") };
}

export const occupancyEventSubject = (site: string, space: string) => `${EVENT_SUBJECT_ROOT}.occupancy.${site}.${space}`;
export const siteOccupancyEventSubject = (site: string) => `${EVENT_SUBJECT_ROOT}.site_occupancy.${site}`;
export const capacityAlertSubject = (site: string, space: string) => `${EVENT_SUBJECT_ROOT}.alert.${site}.${space}`;
export const trackEventSubject = (site: string, camera: string) => `${EVENT_SUBJECT_ROOT}.track.${site}.${camera}`;
export const personEventSubject = (site: string) => `${EVENT_SUBJECT_ROOT}.person.${site}`;
export const ingestRateSubject = (site: string, broker: string) => `${EVENT_SUBJECT_ROOT}.ingest.${site}.${broker}`;

/** The site an FF_EVENTS subject belongs to (every event subject's third token). */
export const siteOfEventSubject = (subject: string): string | undefined => subject.split(".")[2];
