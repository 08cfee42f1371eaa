/**
 * An attribute extractor: looks again at stored data (video, later) for one tracklet and returns
 * evidence for one attribute. Reprocessing jobs (api/) call it when a query asks for an
 * attribute that was not extracted for part of the range (seed 000: "if the transformed data does
 * not have the datapoints we need, we trigger video -> raw data -> transformed data again").
 *
 * Implementations: the simulated extractor of firmware-sim/ (looks at the simulated world), and
 * the video extractor of the video issue (looks at stored chunks).
 */
export interface ExtractionRequest {
  site: string;
  camera: string;
  /** tracklet id "{camera}:{n}" */
  tid: string;
  attribute: string;
  /** the tracklet's time span, epoch ms */
  from: number;
  to: number;
  /** where the tracked person was on the floor during the span: [ts, x, y] (metres) */
  path: Array<[number, number, number]>;
}

/** value -> summed confidence (empty when the extractor could not tell) */
export type AttributeEvidence = Record<string, number>;

export interface AttributeExtractor {
  readonly name: string;
  /** attributes it can extract (as of the last refresh, for remote ones) */
  readonly attributes: readonly string[];
  /** for extractors in other processes: learn what they can extract now (called before each job) */
  refresh?(): Promise<void>;
  extract(req: ExtractionRequest): Promise<AttributeEvidence>;
}
