import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { DeviceRecord } from "../../contracts/device.ts";
import { KV_DEVICES } from "../../contracts/nats-layout.ts";
import { KvFollow } from "../../infra/kv-follow.ts";
import { guardWatch } from "../../infra/kv-watch-guard.ts";
import type { Logger } from "../../infra/log.ts";
import { issueLines } from "../../infra/zod-issues.ts";
import { sameFingerprint, verifySecret } from "./device-secret.ts";

/** Called after a device was added, changed (record) or removed (undefined). */
export type DeviceChangeListener = (id: string, record: DeviceRecord | undefined) => void;

/**
 * The devices the edge may accept, mirrored from the NATS KV bucket ff_devices (key = device id,
 * value = JSON DeviceRecord). Loaded once at open, then kept current by a KV watch, so adding,
 * changing or deleting a device takes effect without a restart. Invalid values are logged and
 * ignored (an invalid value for a known key removes that device: it no longer has a valid record).
 *
 * authenticate() verifies the scrypt hash off the event loop and remembers the last successful
 * verification per device (sha256 of the secret + the stored hash), so HTTP ingest with Basic auth
 * on every request pays scrypt only once per device and secret.
 */
export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceRecord>();
  /** device id -> `${sha256(secret)}$${secretHash}` of the last successful verification */
  private readonly verified = new Map<string, string>();
  /** verifications running right now, so a burst of requests for one device runs scrypt once */
  private readonly verifying = new Map<string, Promise<boolean>>();
  private readonly listeners = new Set<DeviceChangeListener>();
  private follower: KvFollow | undefined;
  /** device id -> revision of the value applied (by the watch or a direct read) */
  private readonly revisions = new Map<string, number>();
  /** KV reads under way for devices the watch has not delivered */
  private readonly lookups = new Map<string, Promise<DeviceRecord | undefined>>();
  private lastRevision = 0;
  private stopGuard: (() => void) | undefined;

  private constructor(private readonly kv: KV, private readonly log?: Logger) {}

  static async open(nc: NatsConnection, log?: Logger): Promise<DeviceRegistry> {
    const kv = await new Kvm(nc).open(KV_DEVICES);
    const registry = new DeviceRegistry(kv, log);
    const jsm = await jetstreamManager(nc);
    const state = (await jsm.streams.info(`KV_${KV_DEVICES}`)).state;
    // the watch resumes after lastRevision; loaded once every entry up to the bucket's last is applied
    const follower = new KvFollow(kv, {
      apply: (e) => registry.apply(e), after: () => registry.lastRevision, what: "device registry", log,
      loadedAt: state.messages === 0 ? 0 : state.last_seq,
    });
    registry.follower = follower;
    await follower.start();
    await follower.loaded;
    registry.stopGuard = guardWatch({ nc, bucket: KV_DEVICES, delivered: () => registry.lastRevision, rewatch: () => follower.rewatch(), log });
    log?.info({ devices: registry.devices.size }, "device registry loaded");
    return registry;
  }

  get(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  get size(): number {
    return this.devices.size;
  }

  /**
   * The device if `secret` is its secret, else undefined. Never throws for bad input. A device
   * this registry does not know is looked up in KV first: the watch may lag behind it (its
   * consumer being re-created after a partition or a lost server) while the device was just added.
   */
  async authenticate(id: string, secret: string): Promise<DeviceRecord | undefined> {
    if (typeof secret !== "string" || secret.length === 0 || secret.length > 1024) return undefined;
    const device = this.devices.get(id) ?? await this.lookUp(id);
    if (!device) return undefined;
    const fingerprint = `${createHash("sha256").update(secret).digest("hex")}$${device.secretHash}`;
    if (sameFingerprint(this.verified.get(id), fingerprint)) return device;
    const key = `${id}$${fingerprint}`;
    let pending = this.verifying.get(key);
    if (!pending) {
      pending = verifySecret(secret, device.secretHash).catch(() => false)
        .finally(() => this.verifying.delete(key));
      this.verifying.set(key, pending);
    }
    if (!(await pending)) return undefined;
    // the record may have changed while scrypt ran: accept only against the hash we verified
    const now = this.devices.get(id);
    if (!now || now.secretHash !== device.secretHash) return undefined;
    this.verified.set(id, fingerprint);
    return now;
  }

  /** Reads a device the watch has not delivered from KV (one read at a time per id); undefined when KV has none or cannot be read. */
  private lookUp(id: string): Promise<DeviceRecord | undefined> {
    if (id.length === 0 || id.length > 256) return Promise.resolve(undefined);
    let read = this.lookups.get(id);
    if (!read) {
      read = this.kv.get(id)
        .then((e) => {
          if (e && e.revision > (this.revisions.get(id) ?? 0)) this.apply(e, "read");
          return this.devices.get(id);
        })
        .catch((err: unknown) => {
          this.log?.warn({ device: id, err }, "device lookup in KV failed");
          return undefined;
        })
        .finally(() => this.lookups.delete(id));
      this.lookups.set(id, read);
    }
    return read;
  }

  /** Listens to device changes seen by the watch; returns the unsubscribe function. */
  onChange(listener: DeviceChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stopGuard?.();
    this.follower?.stop();
    this.listeners.clear();
  }

  private apply(e: Pick<KvEntry, "key" | "revision" | "operation" | "string">, via: "watch" | "read" = "watch"): void {
    // the watch resumes after lastRevision: a direct read must not move it past revisions of other devices not yet delivered
    if (via === "watch" && e.revision > this.lastRevision) this.lastRevision = e.revision;
    const id = e.key;
    // a value read directly may be newer than the one the watch delivers next
    if ((this.revisions.get(id) ?? 0) >= e.revision) return;
    this.revisions.set(id, e.revision);
    if (via === "read") this.log?.info({ device: id, revision: e.revision }, "device read from KV ahead of the watch");
    if (e.operation === "DEL" || e.operation === "PURGE") {
      this.remove(id, "deleted");
      return;
    }
    let parsed: ReturnType<typeof DeviceRecord.safeParse> | undefined;
    try {
      parsed = DeviceRecord.safeParse(JSON.parse(e.string()));
    } catch (err) {
      this.log?.warn({ device: id, revision: e.revision, reason: "invalid JSON", err }, "device record ignored");
      this.remove(id, "invalid record");
      return;
    }
    if (!parsed.success) {
      const reason = issueLines(parsed.error).join("; ");
      this.log?.warn({ device: id, revision: e.revision, reason }, "device record ignored");
      this.remove(id, "invalid record");
      return;
    }
    if (parsed.data.id !== id) {
      this.log?.warn({ device: id, revision: e.revision, reason: `record id ${parsed.data.id} differs from key ${id}` }, "device record ignored");
      this.remove(id, "invalid record");
      return;
    }
    const before = this.devices.get(id);
    this.devices.set(id, parsed.data);
    if (before && before.secretHash !== parsed.data.secretHash) this.verified.delete(id);
    this.log?.info({ device: id, kind: parsed.data.kind, site: parsed.data.site, revision: e.revision }, before ? "device updated" : "device added");
    this.emit(id, parsed.data);
  }

  private remove(id: string, why: string): void {
    this.verified.delete(id);
    if (!this.devices.delete(id)) return;
    this.log?.info({ device: id, why }, "device removed");
    this.emit(id, undefined);
  }

  private emit(id: string, record: DeviceRecord | undefined): void {
    for (const l of this.listeners) {
      try { l(id, record); } catch (err) { this.log?.error({ err, device: id }, "device change listener failed"); }
    }
  }
}
