import { z } from "zod";

/**
 * Failed and successful logins, told to every other process of the same login surface over
 * plain NATS (not stored), so that a guesser spread over several brokers or API processes is
 * delayed and banned as if all its attempts had reached one (access/login-throttle.ts).
 */
export const loginNewsSubject = (surface: "mqtt" | "http") => `svc.auth.${surface}`;

export const LoginNews = z.strictObject({
  /** the process that saw the attempt (it ignores its own news) */
  from: z.string().min(1).max(100),
  outcome: z.enum(["failed", "succeeded"]),
  /** the remote address */
  address: z.string().max(200).optional(),
  /** the device id or API key id the attempt named */
  id: z.string().max(200).optional(),
});
export type LoginNews = z.infer<typeof LoginNews>;
