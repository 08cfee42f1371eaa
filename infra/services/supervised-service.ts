import type { Registry } from "prom-client";
import { backoffDelay, type BackoffPolicy } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { counter } from "../metrics.ts";
import type { ServiceProcess } from "./child-process.ts";

/** a service that keeps dying is started again after 0.5 s, 1 s, 2 s ... at most 10 s */
export const SERVICE_RESTART_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 10_000, jitter: 0 };
/** a service that ran this long before it died starts again after the first delay */
const STABLE_MS = 30_000;

export interface ServiceSpec {
  name: string;
  /** starts one process of the service (same config, data dir and port each time) */
  spawn(): ServiceProcess;
  /** resolves once that process serves; throws when it does not (timeout, exited) */
  ready(proc: ServiceProcess): Promise<void>;
}

/**
 * One service binary (nats-server, influxd) kept running like footfall's own processes: when it
 * exits without stop() it is started again on the same data dir and port, after a back-off that
 * grows while it keeps failing; every restart is logged and counted
 * (`footfall_service_restarts_total{service}`). stop() stops it for good.
 * Without `supervise` it is a plain child: once dead it stays dead (tests that restart by hand).
 */
export class SupervisedService {
  private current: ServiceProcess;
  private stopping = false;
  private attempt = 0;
  private startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private readyWaiters: Array<() => void> = [];
  /** restarts so far */
  restarts = 0;

  private constructor(
    private readonly spec: ServiceSpec,
    first: ServiceProcess,
    private readonly opts: { supervise: boolean; log?: Logger; registry?: Registry; backoff: BackoffPolicy },
  ) {
    this.current = first;
    if (opts.supervise) this.watch(first);
  }

  /** Starts the service and waits until it serves. */
  static async start(
    spec: ServiceSpec,
    opts: { supervise?: boolean; log?: Logger; registry?: Registry; backoff?: BackoffPolicy } = {},
  ): Promise<SupervisedService> {
    const proc = spec.spawn();
    try {
      await spec.ready(proc);
    } catch (e) {
      await proc.kill();
      throw e;
    }
    return new SupervisedService(spec, proc, {
      supervise: opts.supervise ?? false, backoff: opts.backoff ?? SERVICE_RESTART_BACKOFF,
      ...(opts.log ? { log: opts.log } : {}), ...(opts.registry ? { registry: opts.registry } : {}),
    });
  }

  get name(): string { return this.spec.name; }
  /** the process running now (a new one after each restart) */
  get proc(): ServiceProcess { return this.current; }
  /** true while a process of the service runs and no restart is pending */
  get running(): boolean { return !this.current.exited() && !this.restarting; }

  /** Resolves once the service serves again after a restart (at once if it is not restarting). */
  async whenReady(): Promise<void> {
    if (!this.restarting && !this.current.exited()) return;
    if (!this.opts.supervise || this.stopping) throw new Error(`${this.spec.name} is not running and not supervised`);
    await new Promise<void>((r) => this.readyWaiters.push(r));
  }

  private watch(proc: ServiceProcess): void {
    void proc.whenExited().then(() => {
      if (this.stopping || proc !== this.current) return;
      if (Date.now() - this.startedAt > STABLE_MS) this.attempt = 0;
      this.scheduleRestart(proc.child.exitCode, proc.child.signalCode);
    });
  }

  private scheduleRestart(code: number | null, signal: NodeJS.Signals | null): void {
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.opts.backoff);
    this.opts.log?.error({ service: this.spec.name, code, signal, restartInMs: delay, attempt: this.attempt }, "service exited; restarting");
    let release!: () => void;
    this.restarting = new Promise<void>((r) => { release = r; });
    this.timer = setTimeout(() => { void this.restart().finally(release); }, delay);
    this.timer.unref();
  }

  private async restart(): Promise<void> {
    this.timer = undefined;
    if (this.stopping) return;
    const proc = this.spec.spawn();
    this.current = proc;
    this.startedAt = Date.now();
    this.restarts++;
    if (this.opts.registry) {
      counter(this.opts.registry, "footfall_service_restarts_total", "services (nats-server, influxd) restarted after they exited", ["service"])
        .inc({ service: this.spec.name });
    }
    try {
      await this.spec.ready(proc);
    } catch (err) {
      if (this.stopping) return;
      this.opts.log?.error({ service: this.spec.name, err }, "restarted service did not become ready");
      await proc.kill();
      this.restarting = undefined;
      this.scheduleRestart(proc.child.exitCode, proc.child.signalCode);
      return;
    }
    if (this.stopping) return;
    this.restarting = undefined;
    this.opts.log?.info({ service: this.spec.name, restarts: this.restarts }, "service restarted");
    for (const w of this.readyWaiters.splice(0)) w();
    this.watch(proc);
  }

  /** SIGKILL the running process (a supervised service is then restarted). */
  async kill(): Promise<void> { await this.current.kill(); }

  /** Stops the service for good: no restart after this. */
  async stop(graceMs?: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current.stop(graceMs);
    for (const w of this.readyWaiters.splice(0)) w();
  }
}
