import type { Db, Queryable } from '../db/db.ts';

/**
 * The NOTIFY channel that says "robot X has pending items". Its payload is the robot id, followed
 * by ` push` for a push robot: only those wake the push dispatcher.
 */
export const workChannel = 'refinery_work';

/** SQL sending the wake-up for robot row `r` (a `robots` row alias). */
export const notifyWorkOf = (r: string) => `pg_notify('${workChannel}', ${r}.id::text || case when ${r}.delivery->>'mode' = 'push' then ' push' else '' end)`;

/** Sends the wake-up inside the caller's transaction, so it is delivered at commit and only then. */
export async function notifyWork(db: Queryable, robotIds: readonly string[]): Promise<void> {
  if (robotIds.length === 0) return;
  await db.query(`select ${notifyWorkOf('r')} from robots r where r.id = any($1::uuid[])`, [[...new Set(robotIds)]]);
}

/**
 * Long-poll waiters: a lease with `wait` parks here until a NOTIFY for its robot arrives
 * (from any Refinery process, through PostgreSQL, or in-process through PGlite) or time runs out.
 */
export class WorkSignals {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<(robotId: string) => void>();
  private readonly wakeCounts = new Map<string, number>();
  /** How long a long poll waits without a wake-up before it looks again: a retry's backoff ending sends none. */
  recheckMs = 1000;
  private unlisten: (() => Promise<void>) | null = null;

  constructor(private readonly db: Db) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.db.listen(workChannel, (payload) => this.wake(payload));
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = null;
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }

  private wake(payload: string): void {
    const [robotId, mode] = payload.split(' ');
    this.wakeCounts.set(robotId, (this.wakeCounts.get(robotId) ?? 0) + 1);
    for (const wake of this.waiters.get(robotId) ?? []) wake();
    if (mode === 'push') for (const listener of this.listeners) listener(robotId);
  }

  /**
   * Wakes this process's long polls for `robotId` without waiting for the NOTIFY (sent too, for
   * the other processes) to come back from the database: for work this process just committed.
   */
  wakeHere(robotId: string): void {
    this.wake(robotId);
  }

  /** Calls `listener` with the robot id of every push robot's wake-up, until the returned function is called (the push dispatcher). */
  subscribe(listener: (robotId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** How many wake-ups for `robotId` this process has seen: read before looking for work, then handed to `waitFor`. */
  wakeups(robotId: string): number {
    return this.wakeCounts.get(robotId) ?? 0;
  }

  /**
   * Resolves when work for `robotId` may have arrived, after `ms`, or when `signal` aborts; at once
   * if a wake-up came since the count `seen` was read: one that arrived while the caller was
   * looking for work (its statement's snapshot taken before the work was committed) is not lost.
   */
  waitFor(robotId: string, ms: number, seen: number, signal?: AbortSignal): Promise<void> {
    if (this.wakeups(robotId) !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(robotId);
      if (!set) this.waiters.set(robotId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(robotId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      set.add(done);
    });
  }
}
