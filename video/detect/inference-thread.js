// Entry of the inference worker thread (video/detect/inference-worker.ts): a worker thread starts
// without the parent's TypeScript loader, so it registers tsx first (as infra/cli/footfall.js does).
import { register } from "tsx/esm/api";

register();
await import("./inference-thread.ts");
