import type { Client } from "aedes";

/**
 * MQTT packet sizes, checked as the bytes arrive. aedes' parser (mqtt-packet) buffers a packet
 * until all of its announced remaining length has arrived and has no size limit (aedes has no
 * maxPacketSize option), so a client announcing 50 MB got 50 MB read into memory, before CONNECT
 * even. PacketSizes reads only the fixed headers of the byte stream (type byte, remaining length
 * as a variable byte integer, MQTT 3.1.1 §2.2.3) and skips the bodies; the first header
 * announcing more than the current limit is reported before its body is read.
 */
export class PacketSizes {
  private state: "type" | "length" | "body" = "type";
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private left = 0;

  /** `limit`: the largest remaining length allowed now (asked at each header) */
  constructor(private readonly limit: () => number) {}

  /** Reads `chunk`'s headers; undefined while every packet fits, else the first that does not. */
  check(chunk: Uint8Array): PacketViolation | undefined {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case "type":
          this.type = chunk[i++]! >> 4;
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = "length";
          break;
        case "length": {
          const b = chunk[i++]!;
          this.length += (b & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if (b & 0x80) {
            if (this.lengthBytes === 4) return { reason: "malformed", type: this.type, announced: this.length, limit: this.limit() };
            break;
          }
          const limit = this.limit();
          if (this.length > limit) return { reason: "too_large", type: this.type, announced: this.length, limit };
          this.left = this.length;
          this.state = this.left === 0 ? "type" : "body";
          break;
        }
        case "body": {
          const skip = Math.min(this.left, chunk.length - i);
          i += skip;
          this.left -= skip;
          if (this.left === 0) this.state = "type";
          break;
        }
      }
    }
    return undefined;
  }
}

export interface PacketViolation {
  reason: "too_large" | "malformed";
  /** MQTT control packet type (1 CONNECT, 3 PUBLISH, ...) */
  type: number;
  /** the remaining length the header announced (as far as read) */
  announced: number;
  limit: number;
}

export const PACKET_TYPES = ["reserved", "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
  "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", "auth"] as const;

/** Room for a PUBLISH's topic (up to 65 535 bytes + its length), packet id and a margin, above the payload limit. */
export const PUBLISH_HEADER_ROOM = 65_535 + 2 + 2 + 16;

export interface PacketGuard {
  /** the client has authenticated: its packets may now be as large as `afterAuth` */
  authenticated(): void;
}

interface ParserLike { parse(buf: Buffer): unknown }

/**
 * Puts PacketSizes in front of the aedes client's parser: every chunk aedes reads from the socket
 * is checked before the parser sees it, with the limit `beforeAuth` until authenticated() (so
 * only a small CONNECT), `afterAuth` after. On the first violation the chunk is not parsed,
 * `refuse` is told and the socket destroyed; nothing more is read.
 *
 * aedes keeps its parser as the private `_parser` (lib/client.js): checked here, so an aedes that
 * changes it fails at the first connection instead of silently losing the guard.
 */
export function guardPackets(
  client: Client,
  limits: { beforeAuth: number; afterAuth: number },
  refuse: (v: PacketViolation) => void,
): PacketGuard {
  const parser = (client as unknown as { _parser?: ParserLike })._parser;
  if (!parser || typeof parser.parse !== "function") throw new Error("aedes client has no _parser.parse: the packet size guard cannot be installed");
  let authenticated = false;
  let refused = false;
  const sizes = new PacketSizes(() => (authenticated ? limits.afterAuth : limits.beforeAuth));
  const parse = parser.parse.bind(parser);
  parser.parse = (buf: Buffer) => {
    if (refused) return 0;
    const violation = sizes.check(buf);
    if (!violation) return parse(buf);
    refused = true;
    refuse(violation);
    client.conn.destroy();
    return 0;
  };
  return { authenticated: () => { authenticated = true; } };
}
