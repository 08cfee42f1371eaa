/**
 * The detector's score threshold unless told otherwise, shared by the camera's detection process
 * and `footfall detect` (so the command shows what the camera would publish). A module of its
 * own so that the CLI can show it without loading ONNX Runtime. On the annotated vtest frames
 * 0.5 keeps every person and no false positive; 0.35 finds more far-away people with more false
 * positives.
 */
export const DEFAULT_SCORE = 0.5;
