import { z } from "zod";
import { CrossingMsg, MoveMsg, SpaceCountsMsg } from "./occupancy-messages.ts";
import { ActorKinds } from "./nats-layout.ts";
import { CameraStatusMsg, ChunkMsg, FrameMsg, PersonAttrsMsg, PersonEndMsg, PersonObsMsg, TrackletsMsg, ZonePersonMsg } from "./track-messages.ts";

export type ActorKind = (typeof ActorKinds)[keyof typeof ActorKinds];

/**
 * What the actors of each kind receive: the schema every message to that kind is parsed with
 * on arrival, and the type a sender's body is checked against at compile time.
 */
export const ActorInbox = {
  [ActorKinds.doorway]: CrossingMsg,
  [ActorKinds.space]: MoveMsg,
  [ActorKinds.site]: SpaceCountsMsg,
  [ActorKinds.camera]: z.discriminatedUnion("type", [FrameMsg, CameraStatusMsg, ChunkMsg]),
  [ActorKinds.linker]: TrackletsMsg,
  [ActorKinds.person]: z.discriminatedUnion("type", [PersonObsMsg, PersonEndMsg, PersonAttrsMsg]),
  [ActorKinds.zone]: ZonePersonMsg,
} as const satisfies Record<ActorKind, z.ZodType>;

export type InboxOf<K extends ActorKind> = z.output<(typeof ActorInbox)[K]>;

/** Message body by kind: what `ctx.send(kind, …)` accepts. */
export type ActorInboxes = { [K in ActorKind]: InboxOf<K> };
