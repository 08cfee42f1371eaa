import net from "node:net";
import { freePort } from "./ports.ts";

/** Whether `port` on 127.0.0.1 can be listened on now. */
export const isFree = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once("error", () => resolve(false));
  s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
});

/**
 * The environment of a `footfall up --nodes 3` child process with its data under `dataDir`: three
 * consecutive free NATS client ports with their route ports 2000 above, an InfluxDB port whose
 * +2 is free too, free ports for the rest, and no service URLs inherited from the test's own.
 */
export async function upClusterEnv(dataDir: string): Promise<{ env: NodeJS.ProcessEnv; natsBase: number; httpPort: number }> {
  let natsBase: number;
  for (;;) {
    natsBase = 20_000 + Math.floor(Math.random() * 20_000);
    const all = [0, 1, 2].flatMap((i) => [natsBase + i, natsBase + 2000 + i]);
    if ((await Promise.all(all.map(isFree))).every(Boolean)) break;
  }
  let influxPort = await freePort();
  while (!(await isFree(influxPort + 2))) influxPort = await freePort();
  const httpPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, FOOTFALL_DATA_DIR: dataDir, FOOTFALL_NATS_PORT: String(natsBase), FOOTFALL_INFLUX_PORT: String(influxPort),
    FOOTFALL_HTTP_PORT: String(httpPort), FOOTFALL_MQTT_PORT: String(await freePort()), FOOTFALL_BROKER_OPS_PORT: String(await freePort()),
    FOOTFALL_HOST_OPS_PORT: String(await freePort()), FOOTFALL_LOG_LEVEL: "warn", FOOTFALL_ADMIN_TOKEN: "test-admin-token",
  };
  delete env.NATS_URL;
  delete env.INFLUX_URL;
  delete env.FOOTFALL_REPLICAS;
  return { env, natsBase, httpPort };
}
