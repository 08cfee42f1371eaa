import type { Response } from "express";
import type { DeviceRecord } from "../../contracts/device.ts";
import type { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import { sendError } from "./api-error.ts";

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

export type DeviceLogin = { device: DeviceRecord; secret: string } | { refused: string };

/** The device `id` if the Authorization header carries its id and secret, else why not. */
export async function deviceLogin(authorization: string | undefined, id: string, registry: DeviceRegistry, noun: "device" | "camera"): Promise<DeviceLogin> {
  const creds = basicCredentials(authorization);
  const device = creds && creds.user === id ? await registry.authenticate(id, creds.password) : undefined;
  if (device && creds) return { device, secret: creds.password };
  return {
    refused: creds ? `credentials not accepted for ${noun} "${id}"` : `HTTP Basic credentials required (user = ${noun} id, password = its device secret)`,
  };
}

/** 401 with the realm the client should log in to. */
export function refuseLogin(res: Response, realm: string, reason: string): void {
  res.set("WWW-Authenticate", realm);
  sendError(res, 401, "unauthorized", reason);
}
