/** Uploads the camera agent runs at once: its default and the most it allows (the CLI's help shows both). */
export const MAX_UPLOAD_CONCURRENCY = 8;
export const DEFAULT_UPLOAD_CONCURRENCY = 6;
