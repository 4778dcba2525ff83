/** Where time comes from. Tests inject a clock they move; the SQL takes `now` as a parameter. */
export interface Clock {
  now(): Date;
  /** Calls `fn` once `now()` has reached `when` (at once if it has); the returned function cancels it. */
  at(when: Date, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  at(when, fn) {
    let timer: NodeJS.Timeout;
    // A timer may fire a millisecond before the wall clock reads its moment: it waits again then.
    const arm = () => {
      const ms = when.getTime() - Date.now();
      if (ms <= 0) return void fn();
      timer = setTimeout(arm, ms);
      timer.unref();
    };
    arm();
    return () => clearTimeout(timer);
  },
};

/** A clock that stands still until moved: for tests of leases, backoff and expiry. Its `at` calls run when it is moved past them. */
export function manualClock(start = new Date()): Clock & { advance(ms: number): void; set(date: Date): void } {
  let current = start.getTime();
  const timers = new Set<{ when: number; fn: () => void }>();
  const fireDue = () => {
    for (const timer of [...timers].sort((a, b) => a.when - b.when)) {
      if (timer.when > current) break;
      if (!timers.delete(timer)) continue; // cancelled by a call before it
      timer.fn();
    }
  };
  return {
    now: () => new Date(current),
    at(when, fn) {
      const timer = { when: when.getTime(), fn };
      timers.add(timer);
      fireDue();
      return () => void timers.delete(timer);
    },
    advance(ms) {
      current += ms;
      fireDue();
    },
    set(date) {
      current = date.getTime();
      fireDue();
    },
  };
}
