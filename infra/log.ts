import { pino, type Logger } from "pino";

export type { Logger };

/** Structured JSON logs on stdout (pino). One logger per process; children per component. */
export function createLogger(name: string, level = process.env.FOOTFALL_LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, base: { pid: process.pid, proc: name } });
}
