import type { IPoint } from "influx";
import { actorSubject, EVENT_SUBJECT_ROOT } from "../../contracts/nats-layout.ts";
import type { InfluxWriter } from "./influx-writer.ts";
import type { Outbox } from "./outbox.ts";
import type { SendOptions } from "./types.ts";

const encoder = new TextEncoder();
const KIND_RE = /^[A-Za-z0-9_-]{1,64}$/;
const ID_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const EVENT_SUBJECT_RE = new RegExp(`^${EVENT_SUBJECT_ROOT}(\\.[A-Za-z0-9_-]+)+$`);

/** A side effect a behaviour asked for that cannot be carried out; thrown back into the behaviour. */
export class SideEffectError extends Error {
  constructor(message: string) { super(message); this.name = "SideEffectError"; }
}

/**
 * What ctx.send / ctx.emit / ctx.write do for the actors of one partition: validate, encode,
 * hand to the partition's outbox or the host's InfluxDB writer.
 */
export class SideEffects {
  constructor(private readonly opts: {
    outbox: Outbox;
    writer: InfluxWriter;
    partitions: number;
    maxPayloadBytes: number;
    /** whose points these are, for the writer's fencing (the partition's worker) */
    owner?: object;
  }) {}

  send(kind: string, id: string, body: unknown, msgId: string, opts?: SendOptions): void {
    if (!KIND_RE.test(kind)) throw new SideEffectError(`send: kind ${JSON.stringify(kind)} must be 1-64 characters of A-Z a-z 0-9 _ -`);
    if (!ID_RE.test(id)) throw new SideEffectError(`send: id ${JSON.stringify(id)} must be dot-joined tokens of A-Z a-z 0-9 _ -`);
    if (opts?.coalesce && opts.ordered) throw new SideEffectError("send: a send is either ordered or coalesced, not both");
    this.publish(actorSubject(kind, id, this.opts.partitions), body, msgId, "send", opts?.ordered === true, opts?.coalesce === true);
  }

  emit(subject: string, body: unknown, msgId: string): void {
    if (!EVENT_SUBJECT_RE.test(subject)) throw new SideEffectError(`emit: subject ${JSON.stringify(subject)} must be ${EVENT_SUBJECT_ROOT}.{token}...`);
    this.publish(subject, body, msgId, "emit");
  }

  write(points: IPoint[]): void {
    if (!Array.isArray(points)) throw new SideEffectError("write: expects an array of points");
    this.opts.writer.write(points, this.opts.owner);
  }

  private publish(subject: string, body: unknown, msgId: string, what: string, ordered = false, coalesce = false): void {
    if (typeof msgId !== "string" || msgId.length === 0 || msgId.length > 1024) throw new SideEffectError(`${what}: msgId must be a non-empty string`);
    if (body === undefined) throw new SideEffectError(`${what}: body is undefined`);
    let json: string | undefined;
    try { json = JSON.stringify(body); } catch (e) { throw new SideEffectError(`${what}: body is not JSON-serialisable: ${(e as Error).message}`); }
    if (json === undefined) throw new SideEffectError(`${what}: body is not JSON-serialisable`);
    if (coalesce) {
      this.fits(Buffer.byteLength(json), what);
      return this.opts.outbox.coalesce(subject, json, msgId);
    }
    const data = encoder.encode(json);
    this.fits(data.length, what);
    this.opts.outbox.publish(subject, data, msgId, ordered);
  }

  private fits(bytes: number, what: string): void {
    if (bytes > this.opts.maxPayloadBytes) throw new SideEffectError(`${what}: body of ${bytes} bytes exceeds the ${this.opts.maxPayloadBytes}-byte limit`);
  }
}
