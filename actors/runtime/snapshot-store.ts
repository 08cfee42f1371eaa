import type { KV } from "@nats-io/kv";
import { z } from "zod";
import type { Logger } from "../../infra/log.ts";
import { safeJson } from "../../infra/safe-json.ts";
import { kvFenceIo, ReadFence } from "./read-fence.ts";
import { ActorSnapshotKey, readParts, SNAPSHOT_PART_BYTES, SplitHead, type Split } from "./snapshot-key.ts";
import { VersionedKey } from "./versioned-key.ts";

/** KV_SNAPSHOTS key of an actor's snapshot. */
export const actorSnapshotKey = (kind: string, id: string) => `a.${kind}.${id}`;
/** KV_SNAPSHOTS key of a partition's checkpoint. */
export const partitionCheckpointKey = (partition: number) => `p${partition}`;

/** An actor's state and the stream sequence of the last message folded into it. */
export const ActorSnapshot = z.object({ seq: z.number().int().nonnegative(), state: z.unknown() });
export type ActorSnapshot = z.infer<typeof ActorSnapshot>;

/** Every message of the partition up to `seq` is covered by actor snapshots and durable side effects. */
export const PartitionCheckpoint = z.object({ seq: z.number().int().nonnegative() });
export type PartitionCheckpoint = z.infer<typeof PartitionCheckpoint>;

const KV_KEY_RE = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;

/** Whether a string can be a KV key (actor ids that cannot are refused before any I/O). */
export const isValidKvKey = (key: string) => KV_KEY_RE.test(key);

const encoder = new TextEncoder();
export const encodeJson = (v: unknown) => encoder.encode(JSON.stringify(v));

export interface LoadedSnapshot {
  /** 0 when the actor has no snapshot */
  seq: number;
  /** raw (encoded) state; undefined when there is no snapshot */
  state: unknown;
  key: ActorSnapshotKey;
}

/**
 * Actor snapshots and partition checkpoints in KV_SNAPSHOTS. Reads validate the stored JSON
 * (a corrupt value is logged and treated as missing); writes go through the key returned by the
 * load, so they are fenced against any other writer. A snapshot larger than `partBytes` is
 * stored in parts under a head (snapshot-key.ts), so no snapshot is limited by NATS's largest
 * message. Every load goes through a ReadFence, so a host taking a partition over never resumes
 * from a value older than one its previous owner had written, even right after a NATS election.
 */
export class SnapshotStore {
  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
    private readonly partBytes = SNAPSHOT_PART_BYTES,
    private readonly fence = new ReadFence(kvFenceIo(kv)),
  ) {}

  loadActor(kind: string, id: string): Promise<LoadedSnapshot> {
    return this.fence.read(() => this.readActor(kind, id));
  }

  loadCheckpoint(partition: number): Promise<{ seq: number; key: VersionedKey }> {
    return this.fence.read(() => this.readCheckpoint(partition));
  }

  private async readActor(kind: string, id: string): Promise<LoadedSnapshot> {
    const key = actorSnapshotKey(kind, id);
    // a split snapshot whose parts do not match its head is read again once: the head may have
    // moved on (and the parts it named been deleted) between reading it and reading them
    for (let attempt = 0; ; attempt++) {
      const e = await this.kv.get(key);
      const vk = new VersionedKey(this.kv, key, e?.revision ?? 0);
      const none = (split?: Split) => ({ seq: 0, state: undefined, key: new ActorSnapshotKey(this.kv, vk, split, this.partBytes) });
      if (!e || e.operation !== "PUT") return none();
      let json = safeJson(e.value);
      const head = SplitHead.safeParse(json);
      let split: Split | undefined;
      if (head.success) {
        split = head.data.split;
        const bytes = await readParts(this.kv, key, split);
        if (!bytes) {
          if (attempt === 0) continue;
          this.log.error({ key, parts: split.count, bytes: split.bytes }, "corrupt actor snapshot ignored: its parts are missing or do not match");
          return none(split);
        }
        json = safeJson(bytes);
      }
      const parsed = ActorSnapshot.safeParse(json);
      if (!parsed.success) {
        this.log.error({ key, reason: parsed.error.issues[0]?.message ?? "not JSON" }, "corrupt actor snapshot ignored");
        return none(split);
      }
      return { seq: parsed.data.seq, state: parsed.data.state, key: new ActorSnapshotKey(this.kv, vk, split, this.partBytes) };
    }
  }

  private async readCheckpoint(partition: number): Promise<{ seq: number; key: VersionedKey }> {
    const key = partitionCheckpointKey(partition);
    const e = await this.kv.get(key);
    const vk = new VersionedKey(this.kv, key, e?.revision ?? 0);
    if (!e || e.operation !== "PUT") return { seq: 0, key: vk };
    const parsed = PartitionCheckpoint.safeParse(safeJson(e.value));
    if (!parsed.success) {
      this.log.error({ key, reason: parsed.error.issues[0]?.message ?? "not JSON" }, "corrupt partition checkpoint ignored; replaying the partition");
      return { seq: 0, key: vk };
    }
    return { seq: parsed.data.seq, key: vk };
  }
}


