/**
 * The robot runtime: lease a batch, stream its records through the robot's handler into
 * the results upload, post the results, and again — renewing leases while it works,
 * retrying what fails transiently, and giving batches back when it shuts down.
 */
import { randomUUID } from 'node:crypto';
import type { Batch, ItemsLine, ResultLine, ResultsIn } from '@refinery/protocol';
import { batchResultLines, type DownloadRetry } from './answers.ts';
import { BatchError, isTransient, LeaseLostError, messageOf, RefineryError } from './errors.ts';
import { durationMs, type Duration, type Fetch } from './http.ts';
import { jsonLogger, withFields, type RobotLogger } from './logger.ts';
import { Backoff, retryTransient, sleep } from './retry.ts';
import { RobotClient } from './robot-client.ts';

/** A record as the robot receives it, with the enhancements it `needs`. */
export type BatchRecord = ItemsLine['record'];

/** One enhancement a handler produces for the record it was given. */
export interface EnhancementOut {
  type: string;
  content: unknown;
  /** Defaults to the `robotVersion` option. */
  robot_version?: string;
  derived_from?: string[];
}

/** What a handler knows about the batch it works on. */
export interface BatchContext {
  batch: Batch;
  /** Aborted when the work must stop: the lease was lost, or the shutdown deadline passed. */
  signal: AbortSignal;
  log: RobotLogger;
}

/**
 * Enhances one record: returns its enhancement, or nothing (an unanswered record is reported
 * `missing`). Refinery takes one answer per record and batch. A thrown error fails this record
 * only, with the error's message; throw a BatchError to fail the whole batch.
 */
export type RecordHandler = (
  record: BatchRecord,
  ctx: BatchContext,
) => EnhancementOut | null | undefined | Promise<EnhancementOut | null | undefined>;

/**
 * Enhances a whole batch: reads the records as they stream in and yields results lines
 * (enhancements or per-record errors) as they are ready. Throw a BatchError to fail the batch.
 */
export type BatchHandler = (records: AsyncIterable<BatchRecord>, ctx: BatchContext) => AsyncIterable<ResultLine>;

export interface RunRobotCommonOptions {
  /** Refinery's base URL as the robot sees it, e.g. `http://localhost:8080`. */
  url: string;
  robotId: string;
  secret: string;
  /** Put on every enhancement that has no `robot_version` of its own. */
  robotVersion?: string;
  /** Items per batch at most; the robot's `max_batch_size` when omitted. */
  limit?: number;
  /** Lease asked for each batch (and each renewal); the robot's registered lease when omitted. */
  lease?: Duration;
  /** Long-poll wait of each lease call. Default `'PT20S'`. */
  wait?: Duration;
  /** Batches worked at once. Default 1. */
  concurrency?: number;
  /** Records of one batch handed to `handler` at once. Default 1. Ignored with `handleBatch`. */
  recordConcurrency?: number;
  /** Renew a lease after this share of it has passed. Default 1/3. */
  renewAt?: number;
  /**
   * On stop, how long batches in flight may take to finish, in milliseconds; past it they
   * are given back (a retryable error). Default 30 000.
   */
  shutdownTimeoutMs?: number;
  /** Stop on SIGTERM and SIGINT (a second one gives batches back at once). Default true. */
  handleSignals?: boolean;
  /** Aborting it stops the robot, like `stop()`. */
  signal?: AbortSignal;
  /** Default: JSON lines on stdout at level info. */
  log?: RobotLogger;
  /** Spool each results file to a temporary file before the PUT (see RobotClient.uploadResults). Default false. */
  spoolResults?: boolean;
  fetch?: Fetch;
}

/** Give exactly one of `handler` (per record) and `handleBatch` (whole batch). */
export type RunRobotOptions = RunRobotCommonOptions &
  ({ handler: RecordHandler; handleBatch?: never } | { handleBatch: BatchHandler; handler?: never });

/** Counters since start. */
export interface RobotStats {
  /** Batches whose results were posted. */
  batches: number;
  /** Records downloaded. */
  records: number;
  /** Per-record error lines written. */
  recordErrors: number;
  /** Batches failed with a batch-wide error (given-back batches included). */
  batchErrors: number;
  /** Batches dropped because their lease was lost. */
  leasesLost: number;
}

export interface RobotHandle {
  /**
   * Stops leasing, lets batches in flight finish within `timeoutMs` (default: the
   * `shutdownTimeoutMs` option), gives back the rest; resolves when all is settled.
   * Safe to call more than once; a shorter timeout shortens the deadline.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Resolves once the robot has stopped. Never rejects. */
  done: Promise<void>;
  readonly stats: RobotStats;
}

const defaults = {
  wait: 'PT20S',
  concurrency: 1,
  recordConcurrency: 1,
  renewAt: 1 / 3,
  shutdownTimeoutMs: 30_000,
  /** Shortest time between two lease calls, so a server answering 204 at once is not hammered. */
  minPollIntervalMs: 1_000,
  /** Time allowed to each call posting results. */
  postTimeoutMs: 30_000,
  /** How long a failed lease call's key is sent again when the robot asks for no lease of its own: Refinery's default lease. */
  leaseKeyKeptMs: 10 * 60_000,
} as const;

const shuttingDownMessage = 'robot shutting down';

/** Why a batch's work was aborted at the shutdown deadline. */
class ShutdownDeadline extends Error {
  override name = 'ShutdownDeadline';
}

/** Runs a robot until stopped. Returns at once; see RobotHandle. */
export function runRobot(options: RunRobotOptions): RobotHandle {
  const settings = {
    wait: options.wait ?? defaults.wait,
    concurrency: options.concurrency ?? defaults.concurrency,
    recordConcurrency: options.recordConcurrency ?? defaults.recordConcurrency,
    renewAt: options.renewAt ?? defaults.renewAt,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? defaults.shutdownTimeoutMs,
  };
  // Also throws early on a bad duration.
  const leaseKeptMs = options.lease !== undefined ? durationMs(options.lease) : defaults.leaseKeyKeptMs;
  durationMs(settings.wait);
  const log = options.log ?? jsonLogger();
  const client = new RobotClient({ url: options.url, robotId: options.robotId, secret: options.secret, fetch: options.fetch });
  const stats: RobotStats = { batches: 0, records: 0, recordErrors: 0, batchErrors: 0, leasesLost: 0 };

  /** Aborted on stop: lease no more. */
  const stopping = new AbortController();
  /** Aborted at the shutdown deadline: give back the batches still in flight. */
  const deadline = new AbortController();
  let deadlineAt = Infinity;
  let deadlineTimer: NodeJS.Timeout | undefined;

  function stop(stopOptions: { timeoutMs?: number } = {}): Promise<void> {
    if (!stopping.signal.aborted) {
      log.info({}, 'stopping: no more leases; finishing the batches in flight');
      stopping.abort();
    }
    const at = Date.now() + (stopOptions.timeoutMs ?? settings.shutdownTimeoutMs);
    if (at < deadlineAt && Number.isFinite(at)) {
      deadlineAt = at;
      clearTimeout(deadlineTimer);
      deadlineTimer = setTimeout(() => deadline.abort(new ShutdownDeadline(shuttingDownMessage)), at - Date.now());
    }
    return done;
  }

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) {
      log.warn({ signal }, 'second signal: giving the batches in flight back now');
      void stop({ timeoutMs: 0 });
    } else {
      log.info({ signal }, 'signal received');
      void stop();
    }
  };
  if (options.handleSignals ?? true) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  const onAbort = () => void stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  // ── one batch ──────────────────────────────────────────────────────────────

  const answers = {
    client,
    handler: options.handler,
    handleBatch: options.handleBatch,
    recordConcurrency: settings.recordConcurrency,
    robotVersion: options.robotVersion,
    onRecord: () => void stats.records++,
    onRecordError: () => void stats.recordErrors++,
  };
  /** The results file's lines: records downloaded, passed through the handler, as they come. */
  const resultLines = (batch: Batch, ctx: BatchContext, retry: DownloadRetry) => batchResultLines(answers, batch, ctx, retry);

  /**
   * Renews the lease every `renewAt` of it until stopped; aborts `work` once the lease is lost.
   * `expiresAt`: when the lease ends, as last renewed (milliseconds since the epoch).
   */
  function keepLeaseAlive(batch: Batch, work: AbortController, batchLog: RobotLogger): { stop(): void; expiresAt(): number } {
    const renewing = new AbortController();
    const stopRenewing = () => renewing.abort();
    work.signal.addEventListener('abort', stopRenewing, { once: true });
    let expiresAt = Date.parse(batch.lease_expires_at);
    const leaseMs = options.lease !== undefined ? durationMs(options.lease) : expiresAt - Date.now();
    const everyMs = Math.max(1_000, leaseMs * settings.renewAt);
    const backoff = new Backoff(1_000, everyMs);
    void (async () => {
      for (let delayMs = everyMs; ; ) {
        await sleep(delayMs, renewing.signal);
        if (renewing.signal.aborted) return;
        try {
          const renewal = await client.renew(batch.id, options.lease, { signal: renewing.signal });
          expiresAt = Date.parse(renewal.lease_expires_at);
          batchLog.debug({ lease_expires_at: renewal.lease_expires_at }, 'lease renewed');
          delayMs = everyMs;
          backoff.reset();
        } catch (err) {
          if (renewing.signal.aborted) return;
          const gone = err instanceof LeaseLostError || (err instanceof RefineryError && err.status === 404);
          if (gone || Date.now() >= expiresAt) {
            work.abort(gone ? err : new LeaseLostError(409, 'lease_expired', `the lease expired while renewing failed: ${messageOf(err)}`));
            return;
          }
          delayMs = Math.max(250, Math.min(backoff.next(), expiresAt - Date.now() - 1_000));
          batchLog.warn({ err: messageOf(err), retry_in_ms: delayMs }, 'could not renew the lease');
        }
      }
    })();
    return {
      stop() {
        work.signal.removeEventListener('abort', stopRenewing);
        renewing.abort();
      },
      expiresAt: () => expiresAt,
    };
  }

  /**
   * Posts results (or a batch error), retrying transient failures (a server restarting, a
   * connection dropped: a post whose answer was lost is answered 202 again) until `until`, the
   * lease's end unless given, or until `signal` aborts; false when the lease was lost.
   */
  async function post(batch: Batch, results: ResultsIn, batchLog: RobotLogger, retry: { until?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const until = retry.until ?? Date.parse(batch.lease_expires_at);
    try {
      await retryTransient(() => client.postResults(batch.id, results, { signal: AbortSignal.timeout(defaults.postTimeoutMs) }), {
        until: () => until,
        signal: retry.signal,
        onRetry: (err, delayMs) => batchLog.warn({ err: messageOf(err), retry_in_ms: delayMs }, 'could not post results; retrying'),
      });
      return true;
    } catch (err) {
      if (err instanceof LeaseLostError) {
        stats.leasesLost++;
        batchLog.warn({ err: err.message }, 'lease lost before the results were posted; batch dropped');
      } else {
        batchLog.error({ err: messageOf(err) }, 'could not post results; the lease will lapse and the items be retried');
      }
      return false;
    }
  }

  /** Hands the batch back with an error; retried for `postTimeoutMs` at most, so that a stop is never held up long. */
  async function failBatch(batch: Batch, error: { message: string; retryable: boolean }, batchLog: RobotLogger): Promise<void> {
    batchLog.warn({ err: error.message, retryable: error.retryable }, 'batch failed');
    const until = Math.min(Date.parse(batch.lease_expires_at), Date.now() + defaults.postTimeoutMs);
    if (await post(batch, { lease_token: batch.lease_token, error }, batchLog, { until })) stats.batchErrors++;
  }

  async function workBatch(batch: Batch): Promise<void> {
    const batchLog = withFields(log, { batch_id: batch.id, attempt: batch.attempt });
    const startedAt = Date.now();
    batchLog.info({ item_count: batch.item_count, lease_expires_at: batch.lease_expires_at }, 'batch leased');
    const work = new AbortController();
    const onDeadline = () => work.abort(deadline.signal.reason);
    deadline.signal.addEventListener('abort', onDeadline, { once: true });
    if (deadline.signal.aborted) onDeadline();
    const renewal = keepLeaseAlive(batch, work, batchLog);
    const ctx: BatchContext = { batch, signal: work.signal, log: batchLog };
    try {
      // A lost connection (a server restarting) fetches the items again, within the lease as it
      // stands now (so that a file that keeps failing does not hold the batch for ever), and
      // sends the results file again, while the lease lasts.
      const downloadUntil = renewal.expiresAt();
      const download: DownloadRetry = {
        retryUntil: () => downloadUntil,
        onRetry: (err, delayMs) => batchLog.warn({ err: messageOf(err), retry_in_ms: delayMs }, 'could not download the items; fetching them again'),
      };
      await client.uploadResults(batch, resultLines(batch, ctx, download), {
        signal: work.signal,
        spool: options.spoolResults,
        retryUntil: renewal.expiresAt,
        onRetry: (err, delayMs) => batchLog.warn({ err: messageOf(err), retry_in_ms: delayMs }, 'could not upload the results; sending them again'),
      });
      work.signal.throwIfAborted();
      const leaseEnds = renewal.expiresAt();
      renewal.stop();
      if (await post(batch, { lease_token: batch.lease_token }, batchLog, { until: leaseEnds, signal: deadline.signal })) {
        stats.batches++;
        batchLog.info({ duration_ms: Date.now() - startedAt }, 'results posted');
      }
    } catch (err) {
      const reason = work.signal.aborted ? work.signal.reason : err;
      if (reason instanceof LeaseLostError) {
        stats.leasesLost++;
        batchLog.warn({ err: reason.message }, 'lease lost; batch dropped');
      } else if (reason instanceof ShutdownDeadline) {
        await failBatch(batch, { message: shuttingDownMessage, retryable: true }, batchLog);
      } else if (reason instanceof BatchError) {
        await failBatch(batch, { message: reason.message, retryable: reason.retryable }, batchLog);
      } else {
        await failBatch(batch, { message: `could not upload the results: ${messageOf(reason)}`, retryable: true }, batchLog);
      }
    } finally {
      renewal.stop();
      deadline.signal.removeEventListener('abort', onDeadline);
    }
  }

  // ── the lease loop ─────────────────────────────────────────────────────────

  async function leaseLoop(): Promise<void> {
    const backoff = new Backoff(1_000, 30_000);
    // A lease call that failed on the network or a 5xx may have leased a batch whose answer was
    // lost: it is asked again with the same key, which gets that batch while its lease lasts
    // (docs/internals/0021-lost-lease-answers.md); past that, with a new key.
    let key: { value: string; until: number } | null = null;
    while (!stopping.signal.aborted) {
      const askedAt = Date.now();
      if (!key || askedAt > key.until) key = { value: randomUUID(), until: askedAt + leaseKeptMs };
      let batch: Batch | null;
      try {
        batch = await client.lease({ limit: options.limit, lease: options.lease, wait: settings.wait, idempotencyKey: key.value, signal: stopping.signal });
        key = null;
        backoff.reset();
      } catch (err) {
        if (!isTransient(err)) key = null;
        if (stopping.signal.aborted) break;
        const delayMs = backoff.next();
        const level = isTransient(err) ? 'warn' : 'error';
        log[level]({ err: messageOf(err), retry_in_ms: delayMs }, 'could not lease a batch');
        await sleep(delayMs, stopping.signal);
        continue;
      }
      if (batch === null) {
        await sleep(defaults.minPollIntervalMs - (Date.now() - askedAt), stopping.signal);
      } else if (stopping.signal.aborted) {
        await failBatch(batch, { message: shuttingDownMessage, retryable: true }, withFields(log, { batch_id: batch.id }));
      } else {
        await workBatch(batch);
      }
    }
  }

  /** Runs the lease loop until stop, restarting it should it ever throw. */
  async function supervised(): Promise<void> {
    while (!stopping.signal.aborted) {
      try {
        await leaseLoop();
      } catch (err) {
        log.error({ err: messageOf(err) }, 'lease loop crashed; restarting it');
        await sleep(defaults.minPollIntervalMs, stopping.signal);
      }
    }
  }

  log.info({ url: options.url, robot_id: options.robotId, concurrency: settings.concurrency, limit: options.limit }, 'robot started');
  const done = Promise.all(Array.from({ length: settings.concurrency }, supervised)).then(() => {
    clearTimeout(deadlineTimer);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    options.signal?.removeEventListener('abort', onAbort);
    log.info({ ...stats }, 'robot stopped');
  });
  if (options.signal?.aborted) void stop();
  return { stop, done, stats };
}

