import type { z } from "zod";

/**
 * A zod error in words for whoever sent the refused value (an MQTT refusal, a 400, a log line):
 * "events.3.doorway: doorway id must be ...; ts: ...". `root` names the value itself when an
 * issue has no path ("(root)" for a payload, "(body)" for a request body).
 */
export function issueLines(error: z.ZodError, root = "(root)", max = 100): string[] {
  return error.issues.slice(0, max).map((i) => `${i.path.join(".") || root}: ${i.message}`);
}

/** The first `max` issues on one line, with how many more there are. */
export function describeIssues(error: z.ZodError, max = 5, root = "(root)"): string {
  const lines = issueLines(error, root, max);
  if (error.issues.length > max) lines.push(`... ${error.issues.length - max} more`);
  return lines.join("; ");
}
