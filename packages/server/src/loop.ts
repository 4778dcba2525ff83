import type { Logger } from 'pino';

/** A background loop: `runOnce` every `intervalMs` (±20 % jitter) until stopped. */
export interface Loop<R> {
  /** One pass, now; what tests call instead of sleeping. */
  runOnce(): Promise<R>;
  /** Starts the loop; starting it again does nothing. */
  start(): void;
  /** Stops the loop and waits for a pass under way; stopping it again does nothing. */
  stop(): Promise<void>;
}

/**
 * Every maintenance service (sweeper, senders, cleanup) is built alike: a `runOnce` that does
 * one pass; errors are logged and the loop goes on.
 */
export function createLoop<R>(options: { name: string; intervalMs: number; log: Logger; runOnce: () => Promise<R> }): Loop<R> {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;

  function schedule(): void {
    const delay = options.intervalMs * (0.8 + Math.random() * 0.4);
    timer = setTimeout(() => {
      running = options
        .runOnce()
        .catch((err) => options.log.error({ err }, `${options.name} failed; it runs again`))
        .finally(() => {
          running = null;
          if (timer) schedule();
        });
    }, delay);
    timer.unref();
  }

  return {
    runOnce: options.runOnce,
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
