import { pino, type Logger } from "pino";
import { readVariable } from "./config.ts";

export type { Logger };

/** Structured JSON logs on stdout (pino). One logger per process; children per component. */
export function createLogger(name: string, level: string = readVariable("logLevel")): Logger {
  return pino({ name, level, base: { pid: process.pid, proc: name } });
}
