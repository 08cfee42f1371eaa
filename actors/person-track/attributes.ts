import type { AttrVotes } from "../../contracts/track-messages.ts";
import { topValue } from "../appearance/appearance.ts";

/** A person's attributes from its summed votes: per attribute the value with the most confidence, conf = its share. */
export type Attributes = Record<string, { value: string; conf: number }>;

export function bestAttributes(votes: AttrVotes): Attributes {
  const out: Attributes = {};
  for (const name of Object.keys(votes).sort()) {
    const top = topValue(votes[name]!);
    if (top) out[name] = { value: top.value, conf: Math.round(top.share * 1000) / 1000 };
  }
  return out;
}
