import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { ActorPublisher } from "../../broker/actor-publisher.ts";
import { JetStreamPublisher, UnconfirmedDuplicateError } from "../../infra/js-publish.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { readSubject } from "../support/stream-read.ts";
import { makeLostProposal, type LostProposal } from "./lost-proposal.ts";

const ok = await canMakeNamespaces();

/**
 * A stream leader that proposed a message while cut off, and lost the proposal, answers that
 * message's id as a duplicate though the stream never stored it (nats-server 2.10). footfall must
 * never take that answer as stored: a device acknowledged on it would have lost its message.
 */
describe.skipIf(!ok)("a lost proposal's message id (real nats-server cluster in network namespaces)", { timeout: 240_000 }, () => {
  let lp: LostProposal;
  beforeAll(async () => { lp = await makeLostProposal({ stream: "FF_ACTORS", subject: "act.0.camera.mall.c1", msgId: "c1:f744:1000" }); }, 240_000);
  afterAll(async () => { await lp?.stop(); });

  const copies = async () => (await readSubject(lp.nc, lp.stream, lp.subject)).filter((m) => m.headers?.get("Nats-Msg-Id") === lp.msgId).length;

  it("the publisher does not report it stored while the stream does not hold it", async () => {
    // the scenario was made: the cut-off leader took the publish and never answered it
    expect(lp.inside).toMatch(/timeout/i);
    expect(await copies()).toBe(0);
    const publisher = new JetStreamPublisher(lp.nc, { timeoutMs: 2000 });
    const outcome = await publisher.publish(lp.subject, "lost", lp.msgId).then((a) => a, (e: unknown) => e);
    publisher.close();
    if (outcome instanceof Error) expect(outcome).toBeInstanceOf(UnconfirmedDuplicateError);
    else expect(await copies()).toBeGreaterThan(0); // a nats-server that no longer answers so
  });

  it("the broker stores the device message (again, without its id) before acknowledging it", async () => {
    const actors = new ActorPublisher(jetstream(lp.nc, { timeout: 2000 }), { partitions: 1 });
    await actors.publish("camera", "mall.c1", { seq: 744 }, lp.msgId);
    const stored = (await readSubject(lp.nc, lp.stream, lp.subject)).map((m) => m.string());
    expect(stored).toContain(JSON.stringify({ seq: 744 }));
  });
});
