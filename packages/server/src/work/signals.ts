import type { Clock } from '../clock.ts';
import type { Db, Queryable } from '../db/index.ts';
import { robotsWithReadyWork } from './queries/robotsWithReadyWork.ts';

/**
 * The NOTIFY channel that says "robot X has pending items". Its payload is the robot id, followed
 * by ` push` for a push robot (only those wake the push dispatcher), then ` at=<epoch ms>` when the
 * items may be leased only from that moment (a retry's backoff): each process wakes its polls then.
 */
export const workChannel = 'refinery_work';

/** SQL sending the wake-up for robot row `r` (a `robots` row alias), due at `at` (SQL for epoch ms) when given. */
export const notifyWorkOf = (r: string, at?: string) =>
  `pg_notify('${workChannel}', ${r}.id::text || case when ${r}.delivery->>'mode' = 'push' then ' push' else '' end${at === undefined ? '' : ` || ' at=' || (${at})::text`})`;

/** Sends the wake-up inside the caller's transaction, so it is delivered at commit and only then. */
export async function notifyWork(db: Queryable, robotIds: readonly string[]): Promise<void> {
  if (robotIds.length === 0) return;
  await db.query(`select ${notifyWorkOf('r')} from robots r where r.id = any($1::uuid[])`, [[...new Set(robotIds)]]);
}

/** Items of `robot_id` given back for a retry, leasable from `at` (epoch ms): when their backoff ends. */
export interface Retry {
  robot_id: string;
  at: number;
}

/** Sends the wake-ups for retried items inside the caller's transaction, each due when its backoff ends. */
export async function notifyRetries(db: Queryable, retries: readonly Retry[]): Promise<void> {
  if (retries.length === 0) return;
  await db.query(`select ${notifyWorkOf('r', 't.at')} from unnest($1::uuid[], $2::bigint[]) as t(robot_id, at) join robots r on r.id = t.robot_id`, [
    retries.map((t) => t.robot_id),
    retries.map((t) => t.at),
  ]);
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
 * (from any Refinery process, through PostgreSQL, or in-process through PGlite) or, for a NOTIFY
 * due later (a retry's backoff), that moment comes; work is handed to it by a request created in
 * this process (`claimWaiter`); the process's check finds work of its robot (below); or time runs out.
 * A backoff whose NOTIFY this process did not hear (sent before it listened) sends it no wake-up.
 * So every `recheckMs` of waiting, a poll has its robot looked at again, by one statement for all
 * the polls of the process due then (robotsWithReadyWork), and is woken when there is work: not a
 * statement a poll (docs/internals/0020-one-check-for-waiting-polls.md).
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
  /** Wake-ups due later, by the moment they are due (epoch ms), and the clock's alarm for the earliest. */
  private readonly due = new Map<number, Set<string>>();
  private alarm: { at: number; cancel(): void } | null = null;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.db.listen(workChannel, (payload) => this.heard(payload));
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
    this.alarm?.cancel();
    this.alarm = null;
    this.due.clear();
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

  /** A NOTIFY: woken now, or, for one due later, when the clock gets there. */
  private heard(payload: string): void {
    const due = / at=(\d+)$/.exec(payload);
    if (!due) return this.wake(payload);
    const at = Number(due[1]);
    const wakeUp = payload.slice(0, due.index);
    if (at <= this.clock.now().getTime()) return this.wake(wakeUp);
    let set = this.due.get(at);
    if (!set) this.due.set(at, (set = new Set()));
    set.add(wakeUp);
    if (this.alarm === null || at < this.alarm.at) this.arm(at);
  }

  private arm(at: number): void {
    this.alarm?.cancel();
    const alarm = { at, cancel: () => {} };
    this.alarm = alarm;
    alarm.cancel = this.clock.at(new Date(at), () => this.ring());
  }

  /** The alarm: the wake-ups now due are sent, and the alarm set for the next. */
  private ring(): void {
    this.alarm = null;
    const now = this.clock.now().getTime();
    let next = Infinity;
    for (const [at, wakeUps] of this.due) {
      if (at > now) {
        next = Math.min(next, at);
        continue;
      }
      this.due.delete(at);
      for (const wakeUp of wakeUps) this.wake(wakeUp);
    }
    if (next !== Infinity) this.arm(next);
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
