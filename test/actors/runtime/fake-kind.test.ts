import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import type { CrossingMsg } from "../../../contracts/occupancy-messages.ts";
import { ActorKinds } from "../../../contracts/nats-layout.ts";
import { buildKinds, FOOTFALL_KINDS } from "../../../actors/kinds.ts";
import type { KindContext } from "../../../actors/runtime/define-behavior.ts";
import { StaticSiteLookup } from "../../../topology/site-geometry.ts";
import { StaticTopologyLookup } from "../../../topology/topology-lookup.ts";
import { ActorPipeline } from "../../accuracy/actor-pipeline.ts";
import { turnstileKind, type TurnMsg } from "./fixtures/fake-kind.ts";

const T0 = 1_700_000_000_000;

async function skipped(registry: Registry, kind: string): Promise<Record<string, number>> {
  const { values } = await registry.getSingleMetric("footfall_actor_skipped_total")!.get();
  return Object.fromEntries(values.filter((v) => v.labels.kind === kind).map((v) => [v.labels.reason, v.value]));
}

describe("adding an actor kind", () => {
  it("takes one file and one registration line; parsing, misrouting and skip counting are the kit's", async () => {
    const registry = new Registry();
    const topology = new StaticTopologyLookup([{ site: "mall", doorways: [] }]);
    // the registration line: the new kind next to the real ones, through the host's registry function
    const behaviors = buildKinds({ topology, sites: new StaticSiteLookup([]), registry }, [...FOOTFALL_KINDS, turnstileKind]);
    expect([...behaviors.keys()]).toContain("turnstile");

    const pipeline = new ActorPipeline(behaviors);
    const turn = (n: number, gate = "g1"): TurnMsg => ({ type: "turn", site: "mall", gate, space: "hall", n, ts: T0 + n * 1000 });
    for (const body of [turn(1), turn(2), turn(2), { ...turn(3), n: 0 }, null, "turn", turn(3, "g2")]) pipeline.deliver("turnstile", "mall.g1", body);
    await pipeline.drain();

    // two people let in: the real space and site actors count them
    const counts = (measurement: string) => pipeline.pointsOf(measurement).map((p) => [Number(BigInt(String(p.timestamp)) / 1_000_000n), p.fields!.count]);
    expect(counts("occupancy")).toEqual([[T0 + 1000, 1], [T0 + 2000, 2]]);
    expect(counts("site_occupancy")).toEqual([[T0 + 1000, 1], [T0 + 2000, 2]]);
    expect(await skipped(registry, "turnstile")).toEqual({ repeated: 1, invalid: 3, misrouted: 1 });
  });
});

// Compile-time only (tsc checks it, nothing calls it): a kind can send another kind only what that kind receives.
function typedSends(ctx: KindContext, crossing: CrossingMsg): void {
  // @ts-expect-error a space actor receives MoveMsg, not CrossingMsg
  ctx.send(ActorKinds.space, "mall.hall", crossing, "x");
  ctx.send(ActorKinds.doorway, "mall.main", crossing, "x");
}
