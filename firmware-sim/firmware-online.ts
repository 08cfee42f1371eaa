import { setTimeout as sleep } from "node:timers/promises";

/** What waitOnline needs of a simulated device's firmware (DPU or camera). */
export interface OnlineFirmware {
  readonly deviceId: string;
  readonly online: boolean;
  readonly counters: { refused: number; untrusted?: number };
}

/** Waits until every firmware is connected; throws naming the refused, untrusting or unreachable ones. */
export async function waitOnline(fws: readonly OnlineFirmware[], timeoutMs: number, url: string, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // given several brokers, one refusal is not the last word: a broker whose copy of the device
  // registry lags (its watch re-established after a partition) refuses a device the others know,
  // and the device moves on to the next broker; so refusals count only at the deadline
  const several = url.includes(",");
  for (;;) {
    const refused = fws.filter((f) => !f.online && f.counters.refused > 0).map((f) => f.deviceId);
    if (refused.length > 0 && (!several || Date.now() > deadline)) throw new Error(`the broker at ${url} refused the credentials of ${refused.join(", ")}`);
    const untrusted = fws.filter((f) => !f.online && (f.counters.untrusted ?? 0) > 0).map((f) => f.deviceId);
    if (untrusted.length > 0) throw new Error(`the broker at ${url} has a TLS certificate that does not verify against the trusted CA (${untrusted.join(", ")} did not connect)`);
    const offline = fws.filter((f) => !f.online).map((f) => f.deviceId);
    if (offline.length === 0) return;
    if (Date.now() > deadline) throw new Error(`could not connect to the broker at ${url}: ${offline.join(", ")}`);
    await sleep(pollMs);
  }
}
