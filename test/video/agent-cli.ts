import path from "node:path";

/** The footfall CLI as users run it (bin: infra/cli/footfall.js registers tsx in its own process). */
const CLI = path.resolve(import.meta.dirname, "../../infra/cli/footfall.js");

/**
 * node's arguments for `footfall agent …` (the chunking and upload process) or, with "detect"
 * first, `footfall agent detect …`: one node process, so a signal to the child reaches the agent.
 */
export const agentArgs = (...args: string[]): string[] => [CLI, "agent", ...args];
