import type { Logger } from 'pino';

/**
 * Work a request starts but does not wait for (importing results, writing manifests). Failures
 * are logged, never lost: what they left undone is in the database, and a maintenance service
 * (maintenance/) resumes it.
 * `drain` lets a test wait for all of it; `close`, a graceful shutdown, first tells work that
 * loops (the backlog's writer) to stop after its current step.
 */
export function createBackground(log: Logger) {
  const running = new Set<Promise<void>>();
  let closing = false;
  const background = {
    run(what: string, fields: Record<string, unknown>, work: () => Promise<unknown>): Promise<void> {
      const job: Promise<void> = work()
        .then(() => undefined)
        .catch((err) => log.error({ err, ...fields }, `${what} failed; it will be resumed`))
        .finally(() => running.delete(job));
      running.add(job);
      return job;
    },
    async drain(): Promise<void> {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    /** Whether the process is shutting down: work that loops stops, and another process resumes it. */
    get closing(): boolean {
      return closing;
    },
    async close(): Promise<void> {
      closing = true;
      await background.drain();
    },
  };
  return background;
}
export type Background = ReturnType<typeof createBackground>;
