import type { Express, Request, Response } from "express";
import type { LoginAttempt } from "../../access/auth-throttle.ts";
import { wait, type LoginThrottle } from "../../access/login-throttle.ts";
import type { Logger } from "../../infra/log.ts";
import { sendError } from "./api-error.ts";

/**
 * Failed HTTP logins throttled (access/auth-throttle.ts): the Bearer checks (access.ts,
 * admin-auth.ts) and the devices' HTTP Basic (device-auth.ts) ask the app's gate before checking
 * credentials and tell it the outcome. A banned address gets 429 with Retry-After and
 * {error: "too_many_requests", reason}; a throttled one waits before its credentials are checked.
 */
export class LoginGate {
  constructor(private readonly throttle: LoginThrottle, private readonly log: Logger) {}

  /** Before a check: false when the address is banned (429 sent); else true once the delay passed. */
  async admit(req: Request, res: Response, id: string | undefined): Promise<boolean> {
    const attempt = attemptOf(req, id);
    const admission = this.throttle.admit(attempt);
    if (admission.kind === "banned") {
      const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      this.log.warn({ ip: attempt.address, id, method: req.method, path: req.path, retryAfterS: seconds }, "login refused: address banned after failed logins");
      res.set("Retry-After", String(seconds));
      sendError(res, 429, "too_many_requests", `too many failed logins from ${attempt.address}: try again in ${seconds} s`);
      return false;
    }
    if (admission.delayMs > 0) {
      this.log.info({ ip: attempt.address, id, delayMs: admission.delayMs, scope: admission.scope }, "login delayed after failed logins");
      await wait(admission.delayMs);
    }
    return true;
  }

  /** Counts a wrong login; resolves once its answer may go out (after the id's delay). */
  failed(req: Request, id: string | undefined): Promise<void> {
    return wait(this.throttle.failed(attemptOf(req, id)));
  }

  succeeded(req: Request, id: string | undefined): void {
    this.throttle.succeeded(attemptOf(req, id));
  }
}

const attemptOf = (req: Request, id: string | undefined): LoginAttempt =>
  ({ address: req.ip ?? req.socket.remoteAddress, id: id === undefined ? undefined : id.slice(0, 200) });

const GATE = "footfallLoginGate";

/** Makes `gate` the app's login gate (createApiApp). */
export function installLoginGate(app: Express, gate: LoginGate): void {
  app.locals[GATE] = gate;
}

/** The login gate of the request's app; none (no throttling) in an app without one. */
export function loginGateOf(req: Request): LoginGate | undefined {
  return req.app.locals[GATE] as LoginGate | undefined;
}
