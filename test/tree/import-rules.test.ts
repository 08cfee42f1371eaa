/**
 * The rules the tree obeys (README "Where things live"), checked over the real import graph of
 * every source file; and, so that the check itself cannot pass vacuously, each rule shown
 * failing on a deliberately bad import added to that graph.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { actorKinds, cycles, importGraph, rules, sourceFiles, violations, type Edge } from "./import-graph.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const files = sourceFiles(ROOT);
const edges = importGraph(ROOT, files);
const kinds = actorKinds(ROOT);
const ruleSet = rules(kinds);

describe("the import graph", () => {
  it("is read from every source file, and every relative import resolves to a file", () => {
    expect(files.length).toBeGreaterThan(300);
    expect(edges.length).toBeGreaterThan(1000);
    const missing = edges.filter((e) => !fs.existsSync(path.join(ROOT, e.to)));
    expect(missing).toEqual([]);
  });

  it("knows the actor kinds", () => {
    expect(kinds).toEqual(["camera", "doorway", "linker", "person-track", "site", "space", "zone"]);
  });
});

describe("rules the tree obeys", () => {
  for (const rule of ruleSet) {
    it(rule.name, () => {
      expect(violations(edges, [rule]).map((v) => `${v.from} -> ${v.to}: ${v.why}`)).toEqual([]);
    });
  }

  it("has no import cycles", () => {
    expect(cycles(edges)).toEqual([]);
  });
});

describe("each rule fails on a deliberately bad import", () => {
  const bad: Array<[rule: string, edge: Edge]> = [
    ["no product code imports the simulator or the tests", { from: "api/main.ts", to: "firmware-sim/demo.ts" }],
    ["no product code imports the simulator or the tests", { from: "video/agent/main.ts", to: "test/support/ports.ts" }],
    ["server code never imports the edge agent", { from: "video/store/chunk-store.ts", to: "video/agent/segmenter.ts" }],
    ["server code never imports the edge agent", { from: "api/video-routes.ts", to: "video/detect/detect-loop.ts" }],
    ["actor kinds never import sibling kinds", { from: "actors/zone/behavior.ts", to: "actors/linker/state.ts" }],
    ["contracts/ imports nothing of ours but itself", { from: "contracts/topology.ts", to: "topology/validate.ts" }],
    ["infra's ground (configuration, logging, NATS, services) imports only contracts and itself", { from: "infra/provision.ts", to: "actors/kinds.ts" }],
    ["infra's ground (configuration, logging, NATS, services) imports only contracts and itself", { from: "infra/config.ts", to: "infra/cli/cli.ts" }],
    ["the registry (topology/) imports only contracts, infra's ground and itself", { from: "topology/topology-store.ts", to: "broker/mqtt-broker.ts" }],
    ["read access (access/) imports only contracts, infra's ground and itself", { from: "access/key-store.ts", to: "api/app.ts" }],
    ["the wall's browser code (dashboards/wall/page) imports only contracts and itself", { from: "dashboards/wall/page/main.ts", to: "infra/log.ts" }],
    ["the devices' broker list (edge/) imports only contracts, infra's ground and itself", { from: "edge/broker-list.ts", to: "broker/mqtt-broker.ts" }],
    ["the live gateway (dashboards/gateway) imports only contracts, infra's ground, access, topology, the API's InfluxDB readers and itself", { from: "dashboards/gateway/gateway.ts", to: "broker/actor-publisher.ts" }],
    ["the live gateway (dashboards/gateway) imports only contracts, infra's ground, access, topology, the API's InfluxDB readers and itself", { from: "dashboards/gateway/live-state.ts", to: "dashboards/wall/page/main.ts" }],
    ["the live gateway (dashboards/gateway) imports only contracts, infra's ground, access, topology, the API's InfluxDB readers and itself", { from: "dashboards/gateway/main.ts", to: "api/app.ts" }],
    ["the wall's server side (dashboards/wall) imports only contracts, access/, topology/, infra's ground and itself", { from: "dashboards/wall/wall-routes.ts", to: "api/app.ts" }],
  ];
  for (const [rule, edge] of bad) {
    it(`${rule}: ${edge.from} -> ${edge.to}`, () => {
      const found = violations([...edges, edge], ruleSet);
      expect(found).toContainEqual(expect.objectContaining({ rule, from: edge.from, to: edge.to }));
      expect(found).toHaveLength(1);
    });
  }

  it("a cycle: contracts/ids.ts -> contracts/topology.ts -> contracts/ids.ts", () => {
    const found = cycles([...edges, { from: "contracts/ids.ts", to: "contracts/topology.ts" }]);
    expect(found).toContainEqual(expect.arrayContaining(["contracts/ids.ts", "contracts/topology.ts"]));
  });

  it("edges between kinds and shared modules are allowed", () => {
    expect(violations([{ from: "actors/zone/behavior.ts", to: "actors/runtime/types.ts" }], ruleSet)).toEqual([]);
    expect(violations([{ from: "firmware-sim/demo.ts", to: "video/agent/camera-uplink.ts" }], ruleSet)).toEqual([]);
  });
});
