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

/** A long poll parked in `waitFor`, claimed to be handed work directly (`claimWaiter`). */
export interface ClaimedWaiter<Terms, Work> {
  /** What the poll asked for, as it passed them to `waitFor`. */
  readonly terms: Terms;
  /**
   * Ends the poll's wait with `work` (null: none was made for it, it looks for work itself).
   * False when the poll had ended already (its client went away): the work is the caller's to undo.
   */
  hand(work: Work | null): boolean;
}

interface Waiter<Terms, Work> {
  /** Absent for a wait that takes no work handed to it. */
  terms?: Terms;
  end(work: Work | null): boolean;
  /** Out of reach of wake-ups and its timer; only `end` (or its signal) ends it now. */
  claim(): void;
}

/**
 * Long-poll waiters: a lease with `wait` parks here until a NOTIFY for its robot arrives
 * (from any Refinery process, through PostgreSQL, or in-process through PGlite), work is handed
 * to it by a request created in this process (`claimWaiter`), or time runs out.
 * `Terms`: what a waiting poll asks for; `Work`: what it can be handed.
 */
export class WorkSignals<Terms = unknown, Work = unknown> {
  private readonly waiters = new Map<string, Set<Waiter<Terms, Work>>>();
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
    for (const set of this.waiters.values()) for (const waiter of set) waiter.end(null);
  }

  private wake(payload: string): void {
    const [robotId, mode] = payload.split(' ');
    this.wakeCounts.set(robotId, (this.wakeCounts.get(robotId) ?? 0) + 1);
    for (const waiter of this.waiters.get(robotId) ?? []) waiter.end(null);
    if (mode === 'push') for (const listener of this.listeners) listener(robotId);
  }

  /**
   * Wakes this process's long polls for `robotId` without waiting for the NOTIFY (sent too, for
   * the other processes) to come back from the database: for work this process just committed.
   */
  wakeHere(robotId: string): void {
    this.wake(robotId);
  }

  /**
   * The longest-waiting long poll of `robotId` that takes work handed to it, taken out of the
   * waiters so that no wake-up, timer or other claim ends it: whoever claims it must `hand` it
   * something or null, once. Null when no such poll waits in this process.
   */
  claimWaiter(robotId: string): ClaimedWaiter<Terms, Work> | null {
    for (const waiter of this.waiters.get(robotId) ?? []) {
      if (waiter.terms === undefined) continue;
      waiter.claim();
      return { terms: waiter.terms, hand: (work) => waiter.end(work) };
    }
    return null;
  }

  /** Calls `listener` with the robot id of every push robot's wake-up, until the returned function is called (the push dispatcher). */
  subscribe(listener: (robotId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** How many long polls of `robotId` wait in this process (claimed ones not counted). */
  waiting(robotId: string): number {
    return this.waiters.get(robotId)?.size ?? 0;
  }

  /** How many wake-ups for `robotId` this process has seen: read before looking for work, then handed to `waitFor`. */
  wakeups(robotId: string): number {
    return this.wakeCounts.get(robotId) ?? 0;
  }

  /**
   * Resolves when work for `robotId` may have arrived (null), with the work handed to it when it
   * passed `terms` and was claimed, after `ms`, or when `signal` aborts; at once if a wake-up came
   * since the count `seen` was read: one that arrived while the caller was looking for work (its
   * statement's snapshot taken before the work was committed) is not lost.
   */
  waitFor(robotId: string, ms: number, seen: number, signal?: AbortSignal, terms?: Terms): Promise<Work | null> {
    if (this.wakeups(robotId) !== seen) return Promise.resolve(null);
    return new Promise((resolve) => {
      let set = this.waiters.get(robotId);
      if (!set) this.waiters.set(robotId, (set = new Set()));
      const robotWaiters = set;
      let ended = false;
      const leave = () => {
        clearTimeout(timer);
        robotWaiters.delete(waiter);
        if (robotWaiters.size === 0 && this.waiters.get(robotId) === robotWaiters) this.waiters.delete(robotId);
      };
      const waiter: Waiter<Terms, Work> = {
        terms,
        end: (work) => {
          if (ended) return false;
          ended = true;
          leave();
          signal?.removeEventListener('abort', onAbort);
          resolve(work);
          return true;
        },
        claim: leave,
      };
      const onAbort = () => waiter.end(null);
      const timer = setTimeout(onAbort, ms);
      signal?.addEventListener('abort', onAbort);
      robotWaiters.add(waiter);
    });
  }
}
