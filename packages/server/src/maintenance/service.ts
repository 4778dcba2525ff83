import type { Logger } from 'pino';
import type { Metrics } from '../ops/index.ts';

/** A maintenance service: `runOnce` every `intervalMs` (±20 % jitter) until stopped. */
export interface Service<R> {
  readonly name: string;
  /** One pass, now; what tests call, with an injected clock, instead of sleeping. */
  runOnce(): Promise<R>;
  /** Starts the loop; starting it again does nothing. */
  start(): void;
  /** Stops the loop and waits for a pass under way; stopping it again does nothing. */
  stop(): Promise<void>;
}

export interface ServiceOptions<R> {
  /** Its name in logs and in the `service` label of its metrics. */
  name: string;
  intervalMs: number;
  log: Logger;
  metrics: Metrics;
  /** One pass. */
  runOnce: () => Promise<R>;
  /** What a pass touched (batches, requests, records, files…), counted in its metrics. */
  touched: (result: R) => number;
}

/**
 * Every maintenance service is built alike (docs/operations.md): a `runOnce` that does one pass,
 * each pass counted with what it touched and how long it took; a failed pass is logged and the
 * loop goes on.
 */
export function createService<R>(options: ServiceOptions<R>): Service<R> {
  const { name, metrics } = options;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;

  async function runOnce(): Promise<R> {
    const started = performance.now();
    try {
      const result = await options.runOnce();
      metrics.maintenanceRuns.inc({ service: name, outcome: 'ok' });
      metrics.maintenanceTouched.inc({ service: name }, options.touched(result));
      return result;
    } catch (err) {
      metrics.maintenanceRuns.inc({ service: name, outcome: 'failed' });
      throw err;
    } finally {
      metrics.maintenanceDuration.observe({ service: name }, (performance.now() - started) / 1000);
    }
  }

  function schedule(): void {
    const delay = options.intervalMs * (0.8 + Math.random() * 0.4);
    timer = setTimeout(() => {
      running = runOnce()
        .catch((err) => options.log.error({ err, service: name }, `${name} failed; it runs again`))
        .finally(() => {
          running = null;
          if (timer) schedule();
        });
    }, delay);
    timer.unref();
  }

  return {
    name,
    runOnce,
    start() {
      if (!timer) schedule();
    },
    async stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}

/** A chore whose pass gives the number of things it touched. */
export function createChore(ctx: { log: Logger; metrics: Metrics }, name: string, intervalMs: number, runOnce: () => Promise<number>): Service<number> {
  return createService({ name, intervalMs, log: ctx.log, metrics: ctx.metrics, runOnce, touched: (n) => n });
}
