import { randomBytes } from "node:crypto";
import { OUTSIDE } from "../contracts/ids.ts";
import type { DoorwayDef, SpaceDef, TopologyDocIn } from "../contracts/topology.ts";


/** A DPU of a plan: mounted over one doorway, looking into the doorway's entering_to space. */
export interface PlanDpu { id: string; doorway: string }

/**
 * A simulated building. Spaces and doorways have the shapes of a topology document
 * (contracts/topology.ts); "outside" is implied and never listed as a space.
 */
export interface BuildingPlan {
  site: string;
  spaces: SpaceDef[];
  doorways: DoorwayDef[];
  dpus: PlanDpu[];
}

/**
 * The DPU id the simulator gives the DPU over a doorway: "dpu-{doorway}", or with siteScoped
 * "{site}-dpu-{doorway}" (device ids are unique across an installation, so two simulated sites
 * on one stack need different ones).
 */
export function dpuIdFor(doorway: string, site?: string): string {
  const id = site === undefined ? `dpu-${doorway}` : `${site}-dpu-${doorway}`;
  if (id.length > 64) throw new RangeError(`device id "${id}" is longer than 64 characters; use a shorter site id`);
  return id;
}

/**
 * A small shopping mall: 7 spaces, 12 doorways (5 to the street, one of them with its DPU
 * looking outwards, and one between two spaces whose DPU looks "backwards" into the lobby),
 * one DPU per doorway, "dpu-{doorway}" (or "{site}-dpu-{doorway}" with siteScopedDpus).
 */
export function demoMall(site = "demo-mall", opts: { siteScopedDpus?: boolean } = {}): BuildingPlan {
  const spaces: SpaceDef[] = [
    { id: "lobby", name: "Lobby", capacity: 400 },
    { id: "corridor", name: "Shopping corridor", capacity: 300 },
    { id: "food-court", name: "Food court", capacity: 250 },
    { id: "books", name: "Bookshop", capacity: 60 },
    { id: "fashion", name: "Fashion store", capacity: 120 },
    { id: "electronics", name: "Electronics store", capacity: 80 },
    { id: "restrooms", name: "Restrooms", capacity: 30 },
  ];
  const door = (id: string, name: string, exiting_to: string, entering_to: string): DoorwayDef =>
    ({ id, name, entering_to, exiting_to });
  const doorways: DoorwayDef[] = [
    door("main-entrance", "Main entrance", OUTSIDE, "lobby"),
    door("side-entrance", "Side entrance", OUTSIDE, "corridor"),
    door("terrace-door", "Food court terrace door", OUTSIDE, "food-court"),
    door("fashion-street", "Fashion store street door", OUTSIDE, "fashion"),
    // DPU looks outwards: walking out of the building is +1 here
    door("loading-exit", "Electronics loading exit", "electronics", OUTSIDE),
    door("lobby-corridor", "Lobby to corridor", "lobby", "corridor"),
    door("corridor-food-court", "Corridor to food court", "corridor", "food-court"),
    // DPU looks into the lobby: walking from the lobby into the food court is -1 here
    door("food-court-lobby", "Food court to lobby", "food-court", "lobby"),
    door("books-door", "Bookshop door", "corridor", "books"),
    door("fashion-door", "Fashion store mall door", "corridor", "fashion"),
    door("electronics-door", "Electronics store door", "lobby", "electronics"),
    door("restrooms-door", "Restrooms door", "food-court", "restrooms"),
  ];
  return { site, spaces, doorways, dpus: doorways.map((d) => ({ id: dpuIdFor(d.id, opts.siteScopedDpus ? site : undefined), doorway: d.id })) };
}

/** A fresh random secret for every DPU of the plan (device id -> secret). */
export function planSecrets(plan: BuildingPlan): Record<string, string> {
  return Object.fromEntries(plan.dpus.map((d) => [d.id, randomBytes(18).toString("base64url")]));
}

/** The plan as a topology document (PUT /api/v1/sites/{site}/topology), DPUs with their secrets. */
export function toTopologyDoc(plan: BuildingPlan, secrets: Record<string, string>): TopologyDocIn {
  return {
    spaces: plan.spaces.map((s) => ({ id: s.id, name: s.name, ...(s.capacity === undefined ? {} : { capacity: s.capacity }) })),
    doorways: plan.doorways.map((d) => ({
      id: d.id, ...(d.name === undefined ? {} : { name: d.name }), entering_to: d.entering_to, exiting_to: d.exiting_to,
    })),
    devices: plan.dpus.map((d) => {
      const secret = secrets[d.id];
      return { id: d.id, kind: "dpu" as const, doorway: d.doorway, ...(secret === undefined ? {} : { secret }) };
    }),
  };
}
