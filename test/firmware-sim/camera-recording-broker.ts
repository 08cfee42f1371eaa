import net from "node:net";
import { Aedes, type AuthenticateError } from "aedes";
import { CameraStatus, DetectionFrame } from "../../contracts/detection.ts";
import { parseDeviceTopic } from "../../contracts/topics.ts";
import { freePort } from "../support/ports.ts";

/** One message as the broker published it (client publishes and last wills alike). */
export interface CameraArrival {
  /** the publishing client (for a will: the client whose connection dropped) */
  clientId: string | undefined;
  topic: string;
  qos: number;
  payload: string;
}

/**
 * A bare aedes broker over real TCP for camera firmware tests: authenticates user/password
 * against `credentials`, lets a device publish only under its own camera topics, validates
 * detections with DetectionFrame and status with CameraStatus (refusing what does not parse),
 * and records every message it publishes, last wills included.
 */
export interface CameraRecordingBroker {
  url: string;
  arrivals: CameraArrival[];
  refusedConnects: number;
  /** publishes refused by validation, with the reason */
  refusedPublishes: string[];
  close(): Promise<void>;
}

export async function startCameraRecordingBroker(credentials: Record<string, string>): Promise<CameraRecordingBroker> {
  const arrivals: CameraArrival[] = [];
  const sockets = new Set<net.Socket>();
  const broker = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      if (username !== undefined && credentials[username] !== undefined && password?.toString() === credentials[username]) return done(null, true);
      rb.refusedConnects++;
      const err = new Error("bad user name or password") as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
    authorizePublish: (client, packet, done) => {
      const t = parseDeviceTopic(packet.topic);
      const refuse = (why: string) => { rb.refusedPublishes.push(`${packet.topic}: ${why}`); done(new Error(why)); };
      if (!t || t.kind !== "camera" || t.deviceId !== client?.id) return refuse("not this camera's topic");
      let body: unknown;
      try { body = JSON.parse(packet.payload.toString()); } catch { return refuse("not JSON"); }
      const schema = t.type === "detections" ? DetectionFrame : t.type === "status" ? CameraStatus : undefined;
      if (!schema) return refuse(`unknown message type ${t.type}`);
      const parsed = schema.safeParse(body);
      if (!parsed.success) return refuse(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
      done(null);
    },
  });
  broker.on("publish", (packet, client) => {
    if (packet.topic.startsWith("$SYS")) return;
    arrivals.push({ clientId: client?.id, topic: packet.topic, qos: packet.qos, payload: packet.payload.toString() });
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => { server.off("error", reject); resolve(); });
  });
  const rb: CameraRecordingBroker = {
    url: `mqtt://127.0.0.1:${port}`,
    arrivals,
    refusedConnects: 0,
    refusedPublishes: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
  return rb;
}
