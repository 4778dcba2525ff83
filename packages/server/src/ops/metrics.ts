import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app, so tests can build many apps in one process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'refinery_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    itemsLeased: new Counter({ name: 'refinery_items_leased_total', help: 'Items handed to robots', registers: [registry] }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
