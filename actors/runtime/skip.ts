import type { Counter } from "prom-client";
import type { ActorContext } from "./types.ts";

/** Counts a skipped message under `reason` and logs why, with the actor's id. */
export type Skip = (ctx: ActorContext, reason: string, detail: Record<string, unknown>, message: string) => void;

export function skipper(counter: Counter<"reason">): Skip {
  return (ctx, reason, detail, message) => {
    counter.inc({ reason });
    ctx.log.warn({ actor: ctx.id, reason, ...detail }, message);
  };
}
