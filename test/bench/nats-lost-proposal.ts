/**
 * Does a replicated stream answer "duplicate" for a message it never stored? (a script, not a
 * test.) Per trial, test/chaos/lost-proposal.ts makes a three-node nats-server cluster in network
 * namespaces whose stream leader holds the id of a message it proposed while cut off and lost;
 * then the same message, same id, is published again from outside: JetStream's answer (what
 * @nats-io/jetstream's js.publish() would take as stored), whether the message is in the stream,
 * and what footfall's JetStreamPublisher does with it.
 * Prints one line per trial and a closing JSON object; exits 1 if a trial could not be run.
 *
 *   npx tsx test/bench/nats-lost-proposal.ts [--trials 3]
 */
import { headers } from "@nats-io/nats-core";
import { Command } from "commander";
import { JetStreamPublisher } from "../../infra/js-publish.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { readSubject } from "../support/stream-read.ts";
import { makeLostProposal } from "../chaos/lost-proposal.ts";

const opts = new Command().option("--trials <n>", "clusters made", "3").parse().opts<{ trials: string }>();
const TRIALS = Number(opts.trials);

if (!(await canMakeNamespaces())) {
  console.error("nats-lost-proposal bench: needs root and iproute2 (network namespaces)");
  process.exit(2);
}

interface Trial { trial: number; inside: string; answer: string; copies: number; footfall: string }
const trials: Trial[] = [];
let failed = 0;
for (let trial = 1; trial <= TRIALS; trial++) {
  try {
    const lp = await makeLostProposal();
    try {
      const h = headers();
      h.set("Nats-Msg-Id", lp.msgId);
      const answer = (await lp.nc.request(lp.subject, "lost", { headers: h, timeout: 5000 })).string();
      const copies = (await readSubject(lp.nc, lp.stream, lp.subject)).filter((m) => m.headers?.get("Nats-Msg-Id") === lp.msgId).length;
      const publisher = new JetStreamPublisher(lp.nc, { timeoutMs: 2000 });
      const footfall = await publisher.publish(lp.subject, "lost", lp.msgId).then((a) => `stored: ${JSON.stringify(a)}`, (e: Error) => `${e.name}: ${e.message}`);
      publisher.close();
      trials.push({ trial, inside: lp.inside, answer, copies, footfall });
      console.log(`trial ${trial}: inside the cut-off leader: ${lp.inside}; again once it leads again: ${answer}; copies in the stream: ${copies}; footfall's publisher: ${footfall}`);
    } finally {
      await lp.stop();
    }
  } catch (e) {
    failed++;
    console.log(`trial ${trial}: could not be run: ${(e as Error).message}`);
  }
}

const falseDuplicates = trials.filter((t) => /"duplicate":\s*true/.test(t.answer) && t.copies === 0).length;
console.log(JSON.stringify({ trials: trials.length, not_run: failed, answered_duplicate_with_nothing_stored: falseDuplicates, results: trials }, null, 2));
process.exit(failed > 0 ? 1 : 0);
