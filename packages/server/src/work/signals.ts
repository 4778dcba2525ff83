import { systemClock, type Clock } from '../clock.ts';
import type { Db, Queryable } from '../db/db.ts';
import { robotsWithReadyWork } from './queries/robotsWithReadyWork.ts';

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
  /** When the process's next check (`checkEveryMs`) is to look for work of its robot (Date.now()). */
  recheckAt: number;
  end(work: Work | null): boolean;
  /** Out of reach of wake-ups and its timer; only `end` (or its signal) ends it now. */
  claim(): void;
}

/** How often the process looks for the long polls due to look for work again (`recheckMs`). */
const checkEveryMs = 250;

/**
 * Long-poll waiters: a lease with `wait` parks here until a NOTIFY for its robot arrives
 * (from any Refinery process, through PostgreSQL, or in-process through PGlite), work is handed
 * to it by a request created in this process (`claimWaiter`), the process's check finds work of
 * its robot (below), or time runs out.
 * Work can become leasable without a wake-up: a retry's backoff ending sends none. So every
 * `recheckMs` of waiting, a poll has its robot looked at again, by one statement for all the polls
 * of the process due then (robotsWithReadyWork), and is woken when there is work: not a statement
 * a poll (docs/internals/0018-one-check-for-waiting-polls.md).
 * `Terms`: what a waiting poll asks for; `Work`: what it can be handed.
 */
export class WorkSignals<Terms = unknown, Work = unknown> {
  private readonly waiters = new Map<string, Set<Waiter<Terms, Work>>>();
  private readonly listeners = new Set<(robotId: string) => void>();
  private readonly wakeCounts = new Map<string, number>();
  /** How long a long poll waits without a wake-up before its robot is looked at again. */
  recheckMs = 1000;
  private unlisten: (() => Promise<void>) | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private checkFailing = false;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.db.listen(workChannel, (payload) => this.wake(payload));
    if (this.stopped) {
      this.stopped = false;
      this.scheduleCheck();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = null;
    await this.checking;
    await this.unlisten?.();
    this.unlisten = null;
    for (const set of this.waiters.values()) for (const waiter of set) waiter.end(null);
  }

  private scheduleCheck(): void {
    if (this.stopped) return;
    this.checkTimer = setTimeout(() => {
      this.checking = this.check().finally(() => {
        this.checking = null;
        this.scheduleCheck();
      });
    }, checkEveryMs);
    this.checkTimer.unref();
  }

  /** Wakes the polls whose robot has work, of those due to look again; the others wait another `recheckMs`. */
  private async check(): Promise<void> {
    const due = new Set<string>();
    const now = Date.now();
    for (const [robotId, set] of this.waiters) for (const waiter of set) if (waiter.recheckAt <= now) due.add(robotId);
    if (due.size === 0) return;
    let ready: string[] = [];
    try {
      ready = await robotsWithReadyWork(this.db, { robotIds: [...due], now: this.clock.now() });
      this.checkFailing = false;
    } catch (err) {
      // The database is away: the polls wait on (a NOTIFY or their end), and are looked at again later.
      if (!this.checkFailing) this.log?.warn({ err }, 'could not look for work of the waiting long polls; they wait on');
      this.checkFailing = true;
    }
    for (const robotId of ready) for (const waiter of this.waiters.get(robotId) ?? []) waiter.end(null);
    const next = Date.now() + this.recheckMs;
    for (const robotId of due) for (const waiter of this.waiters.get(robotId) ?? []) if (waiter.recheckAt <= now) waiter.recheckAt = next;
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
   * passed `terms` and was claimed, when the process's check found work of the robot, after `ms`,
   * or when `signal` aborts; at once if a wake-up came
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
        recheckAt: Date.now() + this.recheckMs,
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
