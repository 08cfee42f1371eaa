import mqtt from "mqtt";
import { deviceTopic } from "../../contracts/topics.ts";
import { cameraFrameStream } from "../../firmware-sim/camera-run.ts";
import type { TrackingScenarioRun } from "./tracking-scenario.ts";

/**
 * Publishes again, byte for byte and at QoS 1, every frame the scenario's cameras sent during its
 * first `spanMs` (the simulator is deterministic for a seed, so rendering the run again yields the
 * same payloads). Returns how many frames were re-sent.
 */
export async function resendFrames(mqttUrl: string, run: TrackingScenarioRun, spanMs: number): Promise<number> {
  const { plan, secrets } = run;
  const clients = new Map<string, mqtt.MqttClient>();
  for (const c of plan.cameras) {
    clients.set(c.id, await mqtt.connectAsync(mqttUrl, { clientId: `${c.id}-resend`, username: c.id, password: secrets[c.id]!, reconnectPeriod: 0 }));
  }
  let n = 0;
  try {
    const until = run.simOptions.startTs + spanMs;
    const pending: Promise<unknown>[] = [];
    for (const f of cameraFrameStream(run.simOptions).frames) {
      if (f.frameTs >= until) break;
      if (f.duplicate) continue;
      pending.push(clients.get(f.camera)!.publishAsync(deviceTopic(plan.site, "camera", f.camera, "detections"), f.payload, { qos: 1 }));
      n++;
      if (pending.length >= 200) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  } finally {
    for (const c of clients.values()) await c.endAsync();
  }
  return n;
}

/**
 * Stores frames of the scenario's first `spanMs` in FF_ACTORS again under fresh Nats-Msg-Ids, as
 * a re-send arriving after JetStream's duplicate window would be: only the camera actor's own
 * de-duplication stands between them and the tracks. Returns how many were stored.
 */
export async function restoreFramesPastWindow(js: import("@nats-io/jetstream").JetStreamClient, partitions: number, run: TrackingScenarioRun, spanMs: number): Promise<number> {
  const { ActorKinds, actorSubject } = await import("../../contracts/nats-layout.ts");
  const { DetectionFrame } = await import("../../contracts/detection.ts");
  const until = run.simOptions.startTs + spanMs;
  let n = 0;
  for (const f of cameraFrameStream(run.simOptions).frames) {
    if (f.frameTs >= until) break;
    if (f.duplicate) continue;
    const frame = DetectionFrame.parse(JSON.parse(f.payload));
    const msg = { type: "frame", site: run.plan.site, camera: f.camera, seq: frame.seq, frameTs: frame.frame_ts, receivedAt: Date.now(), detections: frame.detections };
    await js.publish(actorSubject(ActorKinds.camera, `${run.plan.site}.${f.camera}`, partitions), JSON.stringify(msg), { msgID: `late-resend:${f.camera}:${f.seq}` });
    n++;
  }
  return n;
}
