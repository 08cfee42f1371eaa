import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** A compare-and-set KV write (create / update with a revision) lost: someone wrote the key first. */
export const isConflict = (e: unknown): boolean =>
  (e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) ||
  /wrong last sequence/i.test((e as Error)?.message ?? "");
