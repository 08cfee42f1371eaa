import { Router, type RequestHandler } from "express";
import { CrossingEvent, CrossingHttpBody } from "../contracts/crossing.ts";
import type { DeviceRecord } from "../contracts/device.ts";
import type { DeviceRegistry } from "../topology/devices/device-registry.ts";
import type { ActorPublisher } from "../broker/actor-publisher.ts";
import { checkDeviceCrossings, storeCrossings, tooLateCrossings, type StoredCrossings } from "../broker/device-messages/crossing.ts";
import { timeLimits } from "../broker/device-messages/device-message.ts";
import type { Logger } from "../infra/log.ts";
import { describeBody, sendError } from "./http/api-error.ts";
import { deviceLogin, DPU_REALM, refuseLogin } from "./http/device-auth.ts";
import type { ApiMetrics } from "./http/http-metrics.ts";

/**
 * HTTP ingest for DPUs that cannot speak MQTT: POST /dpus/{device}/crossings with HTTP Basic
 * (user = device id, password = its secret), body one crossing or an array. The MQTT crossing
 * handler's own device check and store (same Nats-Msg-Id), so an event sent both ways is stored once.
 *   201 {stored, duplicates}  at least one event was new
 *   409 duplicate             every event was already stored (a retry)
 *   400 / 401                 refused payload (an impossible date among them) / bad credentials
 *   422 too_late              an event older than the raw retention allows (nothing of the body is stored)
 *   503                       JetStream did not confirm: retry later
 */
export function ingestRoutes(deps: {
  registry: DeviceRegistry; publisher: ActorPublisher; metrics: ApiMetrics; json: RequestHandler; log: Logger;
  /** FOOTFALL_RAW_RETENTION: older events are refused as too late (default "INF": no bound) */
  rawRetention?: string;
}): Router {
  const { registry, publisher, metrics, log } = deps;
  const limits = timeLimits(deps.rawRetention ?? "INF");
  const router = Router();

  const authenticate: RequestHandler = async (req, res, next) => {
    res.locals.receivedAt = Date.now();
    const login = await deviceLogin(req, res, String(req.params.device), registry, "device");
    if ("refused" in login) {
      metrics.ingestRequests.inc({ outcome: "unauthorized" });
      return refuseLogin(res, DPU_REALM, login);
    }
    res.locals.device = login.device;
    next();
  };

  router.post("/dpus/:device/crossings", authenticate, deps.json, async (req, res) => {
    const device = res.locals.device as DeviceRecord;
    const refuse = (reason: string, events = 0, status = 400, error = "invalid_payload") => {
      metrics.ingestRequests.inc({ outcome: "refused" });
      if (events > 0) metrics.ingestEvents.inc({ result: "refused" }, events);
      log.info({ device: device.id, reason }, "http crossings refused");
      sendError(res, status, error, reason);
    };
    const parsed = CrossingHttpBody.safeParse(req.body);
    if (!parsed.success) {
      // the union's own error says only "invalid input": name the field of the shape it evidently meant
      const meant = Array.isArray(req.body) ? CrossingEvent.array().safeParse(req.body) : CrossingEvent.safeParse(req.body);
      return refuse(`invalid crossings: ${describeBody(meant.success ? parsed.error : meant.error)}`);
    }
    const events = parsed.data;
    const refusal = checkDeviceCrossings(device, events);
    if (refusal) return refuse(refusal, events.length);
    const late = tooLateCrossings(events, res.locals.receivedAt as number, limits);
    if (late) return refuse(late, events.length, 422, "too_late");

    let result: StoredCrossings;
    try {
      result = await storeCrossings(publisher, device, events, res.locals.receivedAt as number);
    } catch (err) {
      metrics.ingestRequests.inc({ outcome: "unavailable" });
      log.warn({ device: device.id, err }, "http crossings not stored");
      return sendError(res, 503, "unavailable", "crossings could not be stored right now; retry (duplicates are detected)");
    }
    metrics.ingestEvents.inc({ result: "stored" }, result.stored);
    metrics.ingestEvents.inc({ result: "duplicate" }, result.duplicates);
    if (result.stored === 0) {
      metrics.ingestRequests.inc({ outcome: "duplicate" });
      return sendError(res, 409, "duplicate", `all ${result.duplicates} crossing(s) were already stored`, result);
    }
    metrics.ingestRequests.inc({ outcome: "stored" });
    res.status(201).json(result);
  });

  return router;
}
