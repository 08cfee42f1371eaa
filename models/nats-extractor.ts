import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { z } from "zod";
import type { Logger } from "../infra/log.ts";
import type { AttributeEvidence, AttributeExtractor, ExtractionRequest } from "./extractor.ts";

/**
 * Attribute extraction as a NATS service, so the process that has the data (the video pipeline
 * beside the chunk store; in demos and tests the simulator, which holds the simulated world) can
 * serve the API's re-processing jobs:
 *
 *   svc.extract.describe  request {} -> {name, attributes}
 *   svc.extract.run       request ExtractionRequest -> {evidence} | {error}
 *
 * Servers join the queue group "extractors": each request is answered by one of them.
 */
export const EXTRACT_DESCRIBE = "svc.extract.describe";
export const EXTRACT_RUN = "svc.extract.run";
const QUEUE = "extractors";

const Description = z.object({ name: z.string(), attributes: z.array(z.string()) });
const RunReply = z.union([z.object({ evidence: z.record(z.string(), z.number()) }), z.object({ error: z.string() })]);
const Request = z.object({
  site: z.string(), camera: z.string(), tid: z.string(), attribute: z.string(),
  from: z.number(), to: z.number(), path: z.array(z.tuple([z.number(), z.number(), z.number()])),
});

/** The client side, used by the API's job runner: whatever extractor serves on NATS. */
export class NatsExtractor implements AttributeExtractor {
  name = "none running";
  attributes: readonly string[] = [];

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs = 10_000) {}

  async refresh(): Promise<void> {
    try {
      const m = await this.nc.request(EXTRACT_DESCRIBE, "{}", { timeout: 2000 });
      const d = Description.parse(m.json());
      this.name = d.name;
      this.attributes = d.attributes;
    } catch {
      this.name = "none running";
      this.attributes = [];
    }
  }

  async extract(req: ExtractionRequest): Promise<AttributeEvidence> {
    const m = await this.nc.request(EXTRACT_RUN, JSON.stringify(req), { timeout: this.timeoutMs });
    const r = RunReply.parse(m.json());
    if ("error" in r) throw new Error(r.error);
    return r.evidence;
  }
}

/** Serves an extractor on NATS until stop(). Bad requests are answered with an error, never crash the server. */
export function serveExtractor(nc: NatsConnection, extractor: AttributeExtractor, log?: Logger): { stop(): void } {
  const subs: Subscription[] = [
    nc.subscribe(EXTRACT_DESCRIBE, {
      queue: QUEUE,
      callback: (_err, m) => { m.respond(JSON.stringify({ name: extractor.name, attributes: extractor.attributes })); },
    }),
    nc.subscribe(EXTRACT_RUN, {
      queue: QUEUE,
      callback: (_err, m) => {
        let req: ExtractionRequest;
        try {
          req = Request.parse(m.json()) as ExtractionRequest;
        } catch (e) {
          m.respond(JSON.stringify({ error: `bad extraction request: ${(e as Error).message.slice(0, 300)}` }));
          return;
        }
        extractor.extract(req).then(
          (evidence) => m.respond(JSON.stringify({ evidence })),
          (e: unknown) => {
            log?.warn({ err: e, camera: req.camera, tid: req.tid }, "extraction failed");
            m.respond(JSON.stringify({ error: (e as Error)?.message ?? String(e) }));
          },
        );
      },
    }),
  ];
  return { stop: () => { for (const s of subs) s.unsubscribe(); } };
}
