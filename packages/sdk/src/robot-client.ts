import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { signRequest, type Batch, type ItemsLine, type ResultLine, type ResultsIn } from '@refinery/protocol';
import { isTransient, LeaseLostError, RefineryError } from './errors.ts';
import { Backoff, retryTransient, sleep } from './retry.ts';
import { buildUrl, callJson, durationParam, fetchOk, pathOf, requestFetch, streamedBody, type Duration, type Fetch, type JsonCall, type Query } from './http.ts';
import { encodeJsonLines, parseJsonLineChunks } from './jsonl.ts';

export interface RobotClientOptions {
  /** Refinery's base URL as the robot sees it, e.g. `http://localhost:8080`. */
  url: string;
  /** The robot's id (its key id). */
  robotId: string;
  /** One of the robot's live secrets. */
  secret: string;
  /** Defaults to `requestFetch` (fetch's contract over undici's `request`). */
  fetch?: Fetch;
}

export interface LeaseOptions {
  /** At most this many items; never more than the robot's `max_batch_size` (the default). */
  limit?: number;
  /** How long the lease lasts; the robot's registered lease (PT10M unless set) by default. */
  lease?: Duration;
  /** How long Refinery may hold the call open when no work is ready (long poll); 0 by default, at most 60 s. */
  wait?: Duration;
  /**
   * A key new for each lease call, and the same when the call is sent again after its answer was
   * lost: the repeat gets the batch the first call leased, while that lease lasts, instead of
   * leaving it to lapse (an attempt lost). runRobot sends one.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface UploadOptions {
  signal?: AbortSignal;
  /**
   * Write the results to a temporary file first and PUT it with a Content-Length, instead
   * of streaming it chunked. Needed when `results_url` is an S3 presigned URL, which
   * refuses chunked uploads. Memory stays flat either way. Default false.
   */
  spool?: boolean;
  /**
   * Send the file again after a transient failure (network, 408, 429, 5xx; `Retry-After`
   * honoured), with backoff, until this time (milliseconds since the epoch; read before each wait,
   * so it may move, as a renewed lease does). The bytes sent are kept as they go (in memory up to
   * 8 MiB, past that in a temporary file), so a retry sends the same file
   * without asking `lines` again. Default: one attempt.
   */
  retryUntil?: () => number;
  /** Called before each retry's wait, with the error and the delay in milliseconds. */
  onRetry?: (err: unknown, delayMs: number) => void;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /**
   * Fetch the items file again after a transient failure (network, 408, 429, 5xx), with backoff,
   * until this time (milliseconds since the epoch), going on after the lines already given.
   * Default: one attempt.
   */
  retryUntil?: () => number;
  /** Called before each retry's wait, with the error and the delay in milliseconds. */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/** Batches whose `traceparent` a client keeps for their results post. */
const tracedBatches = 1024;

/** The answer to a renewal. */
export interface Renewal {
  id: string;
  lease_expires_at: string;
}

/**
 * A robot's calls to Refinery, each signed with HTTP Message Signatures (RFC 9421). Every
 * method makes one attempt (uploadResults more when asked); `runRobot` adds retries, renewal and
 * shutdown around them.
 */
export class RobotClient {
  readonly url: string;
  readonly robotId: string;
  readonly #secret: string;
  readonly #fetch: Fetch;
  readonly #traceparents = new Map<string, string>();

  constructor(options: RobotClientOptions) {
    this.url = options.url;
    this.robotId = options.robotId;
    this.#secret = options.secret;
    this.#fetch = options.fetch ?? requestFetch;
  }

  /**
   * Leases a batch of pending items: the batch, or null when none came within `wait`.
   * The batch is the robot's until `lease_expires_at`; renew it to keep it longer.
   */
  async lease(options: LeaseOptions = {}): Promise<Batch | null> {
    const query = {
      limit: options.limit,
      lease: options.lease === undefined ? undefined : durationParam(options.lease),
      wait: options.wait === undefined ? undefined : durationParam(options.wait),
    };
    const headers = options.idempotencyKey === undefined ? undefined : { 'idempotency-key': options.idempotencyKey };
    let traceparent: string | undefined;
    const batch = await this.#signed<Batch>('POST', '/v1/batches/lease', { query, headers, signal: options.signal, onAnswer: (header) => (traceparent = header('traceparent')) });
    if (batch && traceparent) this.noteTraceparent(batch.id, traceparent);
    return batch;
  }

  /**
   * Remembers the `traceparent` Refinery gave with a batch (its lease's answer, or a push
   * delivery), sent back with the batch's results post so that the import joins the request's
   * trace (docs/operations.md). Kept for the last `tracedBatches` batches.
   */
  noteTraceparent(batchId: string, traceparent: string): void {
    this.#traceparents.delete(batchId);
    this.#traceparents.set(batchId, traceparent);
    if (this.#traceparents.size > tracedBatches) this.#traceparents.delete(this.#traceparents.keys().next().value!);
  }

  /** The batch, with its URLs signed afresh (the old ones may have expired). */
  async getBatch(id: string, options: { signal?: AbortSignal } = {}): Promise<Batch> {
    return (await this.#signed<Batch>('GET', pathOf('v1', 'batches', id), { signal: options.signal }))!;
  }

  /**
   * Extends the lease by `lease` from now (the robot's default lease when omitted).
   * Throws LeaseLostError when the lease has already expired or results were posted.
   */
  async renew(id: string, lease?: Duration, options: { signal?: AbortSignal } = {}): Promise<Renewal> {
    const query = { lease: lease === undefined ? undefined : durationParam(lease) };
    try {
      return (await this.#signed<Renewal>('POST', pathOf('v1', 'batches', id, 'renew'), { query, signal: options.signal }))!;
    } catch (err) {
      throw leaseLostOn409(err);
    }
  }

  /**
   * The batch's records, streamed from `items_url` one line at a time (the batch is never
   * held whole in memory). The URL carries its own authorisation.
   */
  async *downloadItems(batch: Pick<Batch, 'items_url'>, options: DownloadOptions = {}): AsyncGenerator<ItemsLine> {
    for await (const lines of this.downloadItemChunks(batch, options)) yield* lines;
  }

  /**
   * The same as downloadItems, the lines each network chunk completes at a time (one asynchronous
   * step per chunk, not per record). With `retryUntil`, a transient failure (a server restarting)
   * fetches the file again after a backoff until that time, going on after the lines already given.
   */
  async *downloadItemChunks(batch: Pick<Batch, 'items_url'>, options: DownloadOptions = {}): AsyncGenerator<ItemsLine[]> {
    const backoff = new Backoff();
    let given = 0;
    for (;;) {
      try {
        const response = await fetchOk(this.#fetch, batch.items_url, { signal: options.signal });
        if (!response.body) return;
        let seen = 0;
        for await (const lines of parseJsonLineChunks<ItemsLine>(response.body)) {
          const fresh = seen + lines.length <= given ? [] : lines.slice(Math.max(0, given - seen));
          seen += lines.length;
          if (fresh.length === 0) continue;
          given += fresh.length;
          yield fresh;
        }
        return;
      } catch (err) {
        const leftMs = (options.retryUntil?.() ?? 0) - Date.now();
        if (leftMs <= 0 || !isTransient(err) || options.signal?.aborted) throw err;
        const delayMs = Math.min(backoff.next(), leftMs);
        options.onRetry?.(err, delayMs);
        await sleep(delayMs, options.signal);
        if (options.signal?.aborted) throw err;
      }
    }
  }

  /**
   * PUTs the results file (JSONL) to `results_url`, pulling `lines` as it sends them.
   * If `lines` throws, the upload is abandoned and that error is rethrown (never retried).
   */
  async uploadResults(
    batch: Pick<Batch, 'results_url'>,
    lines: AsyncIterable<ResultLine> | Iterable<ResultLine>,
    options: UploadOptions = {},
  ): Promise<void> {
    let sourceError: { error: unknown } | undefined;
    async function* recordingFailure(): AsyncGenerator<Uint8Array> {
      try {
        yield* encodeJsonLines(lines);
      } catch (error) {
        sourceError = { error };
        throw error;
      }
    }
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    const put = (body: { body: BodyInit; duplex: 'half' }, length?: number) =>
      fetchOk(this.#fetch, batch.results_url, { method: 'PUT', headers: length === undefined ? headers : { ...headers, 'content-length': String(length) }, ...body, signal: options.signal });
    try {
      if (!options.spool && !options.retryUntil) {
        await put(streamedBody(recordingFailure()));
        return;
      }
      const copy = new KeptCopy(options.spool ? 0 : keptInMemoryBytes);
      try {
        if (options.spool) for await (const chunk of recordingFailure()) await copy.add(chunk);
        else {
          const sent = await sendKeepingCopy(recordingFailure(), copy, (body) => put(body), (err) => {
            if (sourceError !== undefined || !isTransient(err) || Date.now() >= options.retryUntil!()) return true;
            options.onRetry?.(err, 0);
            return false;
          });
          if (sourceError) throw sourceError.error;
          if (sent) return;
        }
        const retry = options.retryUntil ? { until: options.retryUntil, signal: options.signal, onRetry: options.onRetry } : { attempts: 1 };
        await retryTransient(async () => put(streamedBody(await copy.read()), copy.bytes), retry);
      } finally {
        await copy.dispose();
      }
    } catch (err) {
      throw sourceError ? sourceError.error : err;
    }
  }

  /**
   * Tells Refinery the results file is uploaded (no `error`), or that the whole batch
   * failed (`error`; `retryable` puts its items back in the queue). Refinery answers 202
   * and imports in the background. The same call repeated (its answer lost on the way) is
   * answered 202 again and changes nothing, so it is safe to retry. Throws LeaseLostError (409)
   * when the lease had expired, or the batch was handed in otherwise (results after an error).
   */
  async postResults(id: string, results: ResultsIn, options: { signal?: AbortSignal } = {}): Promise<{ id: string; status: string }> {
    try {
      const traceparent = this.#traceparents.get(id);
      const headers = traceparent === undefined ? undefined : { traceparent };
      return (await this.#signed<{ id: string; status: string }>('POST', pathOf('v1', 'batches', id, 'results'), { json: results, headers, signal: options.signal }))!;
    } catch (err) {
      throw leaseLostOn409(err);
    }
  }

  /** One signed call answered with JSON (null: no body): the URL signed is exactly the URL fetched, query string included. */
  async #signed<T>(method: string, path: string, options: { query?: Query; json?: unknown; headers?: Record<string, string>; signal?: AbortSignal; onAnswer?: JsonCall['onAnswer'] }): Promise<T | null> {
    const url = buildUrl(this.url, path, options.query);
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    const headers: Record<string, string> = { ...options.headers, ...signRequest({ method, url, body, keyId: this.robotId, secret: this.#secret }) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return callJson<T>(this.#fetch, url, { method, headers, body, signal: options.signal, onAnswer: options.onAnswer });
  }
}

/** A 409 on a fenced call means the lease is gone. */
function leaseLostOn409(err: unknown): unknown {
  if (err instanceof RefineryError && err.status === 409) {
    return new LeaseLostError(err.status, err.code, err.message, err.details, err.requestId, err.retryAfterMs);
  }
  return err;
}

/** A results file kept while it is sent, for a retry: in memory up to this size, past it in a temporary file. */
const keptInMemoryBytes = 8 * 1024 * 1024;

/** The bytes of an upload, kept in memory until they pass `memoryBytes`, then in a temporary file. */
class KeptCopy {
  bytes = 0;
  #chunks: Uint8Array[] = [];
  #dir: string | null = null;
  #file: FileHandle | null = null;
  constructor(private readonly memoryBytes: number) {}

  async add(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.length;
    if (!this.#dir && this.bytes <= this.memoryBytes) {
      this.#chunks.push(chunk);
      return;
    }
    if (!this.#file) {
      this.#dir = await mkdtemp(join(tmpdir(), 'refinery-results-'));
      this.#file = await open(join(this.#dir, 'results.jsonl'), 'w');
      for (const kept of this.#chunks) await this.#file.write(kept);
      this.#chunks = [];
    }
    await this.#file.write(chunk);
  }

  /** The bytes kept so far, from the start. */
  async read(): Promise<AsyncIterable<Uint8Array>> {
    if (!this.#dir) return Readable.from(this.#chunks);
    await this.#file?.close();
    this.#file = null;
    return createReadStream(join(this.#dir, 'results.jsonl'));
  }

  async dispose(): Promise<void> {
    await this.#file?.close();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Sends `source` through `send` and keeps each chunk in `copy` as it goes. True when the send
 * succeeded. When it fails and `final(err)` says so, the error is thrown; otherwise the rest of
 * `source` is kept too (false), for a retry to send it whole. An error of `source` is thrown as it is.
 */
async function sendKeepingCopy(
  source: AsyncIterable<Uint8Array>,
  copy: KeptCopy,
  send: (body: { body: BodyInit; duplex: 'half' }) => Promise<unknown>,
  final: (err: unknown) => boolean,
): Promise<boolean> {
  const chunks = source[Symbol.asyncIterator]();
  /** The chunk being taken from `source`, kept before it is sent. */
  let taking: Promise<unknown> = Promise.resolve();
  let sending = true;
  // Its own generator over `chunks`: a failed send closes this one, not the source.
  async function* sendAndKeep(): AsyncGenerator<Uint8Array> {
    while (sending) {
      const took = chunks.next().then(async (next) => {
        if (!next.done) await copy.add(next.value);
        return next;
      });
      taking = took;
      const next = await took;
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    await send(streamedBody(sendAndKeep()));
    return true;
  } catch (err) {
    sending = false;
    // Before waiting on `source`: an aborted upload's source may never yield again.
    if (final(err)) throw err;
    await taking;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) await copy.add(next.value);
    return false;
  }
}
