import type { Logger } from 'pino';

/**
 * Work a request starts but does not wait for (importing results, writing manifests). Failures
 * are logged, never lost: what they left undone is in the database, and the sweeper resumes it.
 * `drain` lets a graceful shutdown, or a test, wait for all of it.
 */
export function createBackground(log: Logger) {
  const running = new Set<Promise<void>>();
  return {
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
  };
}
export type Background = ReturnType<typeof createBackground>;
