import { z } from "zod";

/**
 * Every id that ends up in an MQTT topic level or a NATS subject token
 * (site, space, doorway, device) must be a single safe token.
 */
export const TOKEN_RE = /^[A-Za-z0-9_-]{1,64}$/;

export const tokenId = (what: string) =>
  z.string().regex(TOKEN_RE, `${what} must be 1-64 characters of A-Z a-z 0-9 _ -`);

export const SiteId = tokenId("site id");
export const SpaceId = tokenId("space id");
export const DoorwayId = tokenId("doorway id");
export const DeviceId = tokenId("device id");

/** The implied space every doorway may lead to or from (seed 001). */
export const OUTSIDE = "outside";

/** A person track across cameras: assigned by the site's linker actor ("p1", "p2", ...). */
export const PersonId = tokenId("person id");
