/**
 * A bare aedes MQTT broker over real TCP for the camera agent's tests: authenticates devices by
 * user/password, lets a camera publish only a valid ChunkMeta of its own on its own
 * footfall/v1/{site}/camera/{id}/chunk topic (and status messages, e.g. CameraUplink's last
 * will, valid DetectionFrames on its detections topic and valid stills on its still topic), and
 * records each announcement with
 * what `onChunk` says at that instant (e.g. whether the store already holds the chunk).
 * `holdFrames()` keeps the PUBACKs of detection frames back until its release is called.
 */
import net from "node:net";
import { Aedes, type AuthenticateError } from "aedes";
import { DetectionFrame } from "../../../contracts/detection.ts";
import { decodeStill, type StillHeader } from "../../../contracts/still.ts";
import { parseDeviceTopic } from "../../../contracts/topics.ts";
import { ChunkMeta } from "../../../contracts/video.ts";
import { freePort } from "../../support/ports.ts";

export interface ChunkAnnouncement {
  clientId: string | undefined;
  topic: string;
  qos: number;
  meta: ChunkMeta;
  /** onChunk's verdict when the broker received it */
  note: unknown;
}

export interface ChunkBroker {
  url: string;
  announcements: ChunkAnnouncement[];
  /** status payloads published for a camera (last wills included), with the client id */
  statuses: { clientId: string | undefined; payload: string }[];
  refused: string[];
  /** detection frames a camera published on its own detections topic */
  frames: DetectionFrame[];
  /** the headers of the stills a camera published on its own still topic */
  stills: StillHeader[];
  /** from now on no detection frame is acknowledged until the returned function is called */
  holdFrames(): () => void;
  close(): Promise<void>;
}

export async function startChunkBroker(
  credentials: Record<string, string>, onChunk: (meta: ChunkMeta) => unknown = () => undefined, listenPort?: number,
): Promise<ChunkBroker> {
  const announcements: ChunkAnnouncement[] = [];
  const refused: string[] = [];
  const statuses: ChunkBroker["statuses"] = [];
  const frames: DetectionFrame[] = [];
  const stills: StillHeader[] = [];
  let held: Array<() => void> | undefined;
  const sockets = new Set<net.Socket>();
  const userOf = new WeakMap<object, string>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (username !== undefined && credentials[username] !== undefined && password?.toString() === credentials[username]) {
        userOf.set(client, username);
        return done(null, true);
      }
      const err = new Error("bad user name or password") as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
    authorizePublish: (client, packet, done) => {
      const t = parseDeviceTopic(packet.topic);
      const refuse = (why: string) => { refused.push(`${packet.topic}: ${why}`); done(new Error(why)); };
      if (t?.kind === "camera" && t.type === "status" && client && userOf.get(client) === t.deviceId) {
        statuses.push({ clientId: client.id, payload: packet.payload.toString() });
        return done(null);
      }
      if (t?.kind === "camera" && t.type === "detections" && client && userOf.get(client) === t.deviceId) {
        let frame: unknown;
        try { frame = JSON.parse(packet.payload.toString()); } catch { return refuse("not JSON"); }
        const parsed = DetectionFrame.safeParse(frame);
        if (!parsed.success) return refuse("not a DetectionFrame");
        frames.push(parsed.data);
        // the PUBACK follows done(): held back, the frame stays unacknowledged
        if (held) held.push(() => done(null));
        else done(null);
        return;
      }
      if (t?.kind === "camera" && t.type === "still" && client && userOf.get(client) === t.deviceId) {
        // a refused publish closes this fixture's connection, and the camera resends it on every
        // reconnect (blocking what it queued after it): a camera's own still is taken, as the real broker does
        const still = decodeStill(Buffer.from(packet.payload));
        if (!still.ok) return refuse(`not a still: ${still.detail}`);
        stills.push(still.still.header);
        return done(null);
      }
      if (!t || t.kind !== "camera" || t.type !== "chunk" || !client || userOf.get(client) !== t.deviceId) return refuse("not this camera's chunk topic");
      let body: unknown;
      try { body = JSON.parse(packet.payload.toString()); } catch { return refuse("not JSON"); }
      const parsed = ChunkMeta.safeParse(body);
      if (!parsed.success || parsed.data.camera !== t.deviceId) return refuse("not a ChunkMeta of this camera");
      announcements.push({ clientId: client?.id, topic: packet.topic, qos: packet.qos, meta: parsed.data, note: onChunk(parsed.data) });
      done(null);
    },
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  const port = listenPort ?? await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => { server.off("error", reject); resolve(); });
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    announcements,
    statuses,
    refused,
    frames,
    stills,
    holdFrames: () => {
      held ??= [];
      return () => {
        const waiting = held ?? [];
        held = undefined;
        for (const ack of waiting) ack();
      };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}
