import { isTransient, RefineryError } from './errors.ts';

/** Waits `ms` milliseconds; resolves early (never rejects) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff with jitter: the n-th delay is random between half and all of min(maxMs, initialMs·2ⁿ). */
export class Backoff {
  #failures = 0;
  constructor(
    readonly initialMs = 500,
    readonly maxMs = 30_000,
  ) {}

  /** The delay before the next attempt, in milliseconds; grows with each call. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.#failures);
    this.#failures++;
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  reset(): void {
    this.#failures = 0;
  }
}

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5; without a bound when `until` is given. */
  attempts?: number;
  /**
   * Retries until this time (milliseconds since the epoch), read before each wait, so it may move
   * (a renewed lease). No wait goes past it: the error is thrown once it has passed.
   */
  until?: () => number;
  /** Stops retrying (the last error is thrown) once aborted. */
  signal?: AbortSignal;
  /** Called before each wait, with the error and the delay in milliseconds. */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/**
 * Calls `fn` again after a backoff while it fails transiently (network, 408, 429, 5xx), waiting at
 * least as long as an answer's `Retry-After` asks.
 */
export async function retryTransient<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? (options.until ? Infinity : 5);
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransient(err) || options.signal?.aborted) throw err;
      let delayMs = Math.max(backoff.next(), (err instanceof RefineryError && err.retryAfterMs) || 0);
      if (options.until) {
        const leftMs = options.until() - Date.now();
        if (leftMs <= 0) throw err;
        delayMs = Math.min(delayMs, leftMs);
      }
      options.onRetry?.(err, delayMs);
      await sleep(delayMs, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}
