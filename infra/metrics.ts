import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics (prom-client) for every footfall process. A process has one registry,
 * labelled with its name. Metrics are got-or-created by name: several components of one process
 * (the actors of many kinds, two hosts in a test) share one counter instead of failing to
 * register it twice.
 */
export function createRegistry(processName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function counter<L extends string = never>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined)
    ?? new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function gauge<L extends string = never>(
  registry: Registry, name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  return (registry.getSingleMetric(name) as Gauge<L> | undefined)
    ?? new Gauge({ name, help, labelNames: [...labelNames], registers: [registry], ...(collect ? { collect } : {}) });
}

export function histogram<L extends string = never>(
  registry: Registry, name: string, help: string, labelNames: readonly L[] = [], buckets?: number[],
): Histogram<L> {
  return (registry.getSingleMetric(name) as Histogram<L> | undefined)
    ?? new Histogram({ name, help, labelNames: [...labelNames], registers: [registry], ...(buckets ? { buckets } : {}) });
}
