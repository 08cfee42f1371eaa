/**
 * Why the topology store refused a change. The API maps the codes to HTTP statuses:
 * invalid -> 422 (with every rule broken), not_found -> 404, in_use -> 409, contended -> 503.
 */
export type TopologyErrorCode = "invalid" | "not_found" | "in_use" | "contended";

export class TopologyError extends Error {
  constructor(readonly code: TopologyErrorCode, readonly errors: string[]) {
    super(errors.join("; "));
    this.name = "TopologyError";
  }
}
