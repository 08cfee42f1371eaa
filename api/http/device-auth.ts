import type { Request, Response } from "express";
import type { DeviceRecord } from "../../contracts/device.ts";
import type { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import { sendError } from "./api-error.ts";
import { loginGateOf } from "./login-gate.ts";

/**
 * Devices that talk HTTP (DPUs posting crossings, camera agents uploading chunks) log in with
 * HTTP Basic (RFC 7617): user = the device id of the path, password = its device secret, checked
 * against the device registry like an MQTT CONNECT.
 */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const DPU_REALM = 'Basic realm="footfall-dpu", charset="UTF-8"';
export const CAMERA_REALM = 'Basic realm="footfall-camera", charset="UTF-8"';

export type DeviceLogin = { device: DeviceRecord; secret: string } | { refused: string; answered?: true };

/**
 * The device `id` if the request's Authorization header carries its id and secret, else why not.
 * Presented credentials go through the app's login gate (login-gate.ts), by device id and address:
 * from a banned address the answer (429) is already sent (`answered`).
 */
export async function deviceLogin(req: Request, res: Response, id: string, registry: DeviceRegistry, noun: "device" | "camera"): Promise<DeviceLogin> {
  const creds = basicCredentials(req.get("authorization"));
  if (!creds) return { refused: `HTTP Basic credentials required (user = ${noun} id, password = its device secret)` };
  const gate = loginGateOf(req);
  if (gate && !(await gate.admit(req, res, id))) return { refused: "address banned after failed logins", answered: true };
  const device = creds.user === id ? await registry.authenticate(id, creds.password) : undefined;
  if (device) {
    gate?.succeeded(req, id);
    return { device, secret: creds.password };
  }
  await gate?.failed(req, id);
  return { refused: `credentials not accepted for ${noun} "${id}"` };
}

/** 401 with the realm the client should log in to (nothing when the gate already answered 429). */
export function refuseLogin(res: Response, realm: string, login: { refused: string; answered?: true }): void {
  if (login.answered) return;
  res.set("WWW-Authenticate", realm);
  sendError(res, 401, "unauthorized", login.refused);
}
