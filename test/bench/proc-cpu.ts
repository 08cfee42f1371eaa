import { execFileSync } from "node:child_process";
import fs from "node:fs";

const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime (fields 14 and 15)
}

/** CPU seconds of every process of a bench stack, by part. */
export interface StackCpu {
  broker: number;
  hosts: number;
  nats_server: number;
  influxd: number;
  /** the bench process itself: the simulated devices' MQTT clients, the API, the bench's own bookkeeping */
  devices_and_api: number;
}

/** CPU seconds used so far by the stack's processes and this one. */
export function stackCpu(pids: { broker: number; hosts: number[]; nats: number; influxd: number }): StackCpu {
  return {
    broker: cpuSeconds(pids.broker),
    hosts: pids.hosts.reduce((s, pid) => s + cpuSeconds(pid), 0),
    nats_server: cpuSeconds(pids.nats),
    influxd: cpuSeconds(pids.influxd),
    devices_and_api: cpuSeconds(process.pid),
  };
}

/** CPU seconds per 10,000 items between two readings, by part, with their total. */
export function cpuPer10k(start: StackCpu, end: StackCpu, items: number): StackCpu & { total: number } {
  const per = (k: keyof StackCpu) => Math.round(((end[k] - start[k]) / Math.max(1, items)) * 10_000 * 1000) / 1000;
  const parts = { broker: per("broker"), hosts: per("hosts"), nats_server: per("nats_server"), influxd: per("influxd"), devices_and_api: per("devices_and_api") };
  return { ...parts, total: Math.round((parts.broker + parts.hosts + parts.nats_server + parts.influxd + parts.devices_and_api) * 1000) / 1000 };
}
