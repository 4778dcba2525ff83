/**
 * The push side of the robot runtime: a small HTTP server that Refinery POSTs leased batches to
 * (docs/push.md). It verifies each delivery's Standard Webhooks signature (401 when it does not
 * hold), then either streams the results back in the 200 answer (`mode: 'sync'`) or answers 202
 * and works the batch in the background, uploading and posting results as a pulling robot does
 * (`mode: 'async'`).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { pushResultsMediaType, pushSigningSecret, type Batch } from '@refinery/protocol';
import { batchResultLines } from './answers.ts';
import { BatchError, LeaseLostError, messageOf, RefineryError } from './errors.ts';
import type { Fetch } from './http.ts';
import { encodeJsonLines } from './jsonl.ts';
import { jsonLogger, withFields, type RobotLogger } from './logger.ts';
import { retryTransient } from './retry.ts';
import { RobotClient } from './robot-client.ts';
import type { BatchContext, BatchHandler, RecordHandler } from './runtime.ts';

export interface ServePushRobotCommonOptions {
  /** Refinery's base URL as the robot sees it: where asynchronous results and batch errors are posted. */
  url: string;
  robotId: string;
  /** One of the robot's live secrets: it verifies deliveries and signs the robot's calls. */
  secret: string;
  /** `'sync'`: answer 200 with the results inline; `'async'`: answer 202 and post them later. Default `'async'`. */
  mode?: 'sync' | 'async';
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on. Default `'127.0.0.1'`; `'0.0.0.0'` to be reachable from elsewhere. */
  host?: string;
  /** Put on every enhancement that has no `robot_version` of its own. */
  robotVersion?: string;
  /** Records of one batch handed to `handler` at once. Default 1. Ignored with `handleBatch`. */
  recordConcurrency?: number;
  /** Batches worked at once; a delivery beyond it is answered 503 with Retry-After. Default 4. */
  concurrency?: number;
  /** Default: JSON lines on stdout at level info. */
  log?: RobotLogger;
  fetch?: Fetch;
}

/** Give exactly one of `handler` (per record) and `handleBatch` (whole batch), as with runRobot. */
export type ServePushRobotOptions = ServePushRobotCommonOptions &
  ({ handler: RecordHandler; handleBatch?: never } | { handleBatch: BatchHandler; handler?: never });

export interface PushRobotStats {
  /** Deliveries accepted (signature good). */
  deliveries: number;
  /** Deliveries refused with 401. */
  refused: number;
  /** Batches whose results were answered inline or posted. */
  batches: number;
  /** Batches failed with a batch-wide error. */
  batchErrors: number;
}

export interface PushRobotHandle {
  /** The URL to register as the robot's push URL (`delivery: {mode: 'push', url}`), e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  readonly port: number;
  readonly stats: PushRobotStats;
  /** Stops taking deliveries and waits for the batches in hand. Safe to call twice. */
  stop(): Promise<void>;
}

const defaults = {
  mode: 'async',
  host: '127.0.0.1',
  recordConcurrency: 1,
  concurrency: 4,
  /** A delivery is one small JSON object. */
  maxBodyBytes: 64 * 1024,
  /** Seconds a busy robot asks Refinery to wait. */
  busyRetryAfterSeconds: 5,
  /** webhook-ids remembered to refuse replays: Standard Webhooks' timestamp tolerance is 5 minutes. */
  replayWindowMs: 10 * 60_000,
  postTimeoutMs: 30_000,
} as const;

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpRefusal(413, 'payload_too_large', `a delivery is at most ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendError(response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify({ error: { code, message } }));
}

function isBatch(value: unknown): value is Batch {
  const b = value as Record<string, unknown> | null;
  return typeof b === 'object' && b !== null && ['id', 'lease_token', 'lease_expires_at', 'items_url', 'results_url'].every((k) => typeof b[k] === 'string');
}

/** Serves a push robot until stopped; resolves once it listens. */
export async function servePushRobot(options: ServePushRobotOptions): Promise<PushRobotHandle> {
  const mode = options.mode ?? defaults.mode;
  const concurrency = options.concurrency ?? defaults.concurrency;
  const recordConcurrency = options.recordConcurrency ?? defaults.recordConcurrency;
  const log = options.log ?? jsonLogger();
  const webhook = new Webhook(pushSigningSecret(options.secret));
  const client = new RobotClient({ url: options.url, robotId: options.robotId, secret: options.secret, fetch: options.fetch });
  const stats: PushRobotStats = { deliveries: 0, refused: 0, batches: 0, batchErrors: 0 };
  const seen = new Map<string, number>();
  const working = new Set<Promise<void>>();
  const stopping = new AbortController();

  function rememberId(id: string): boolean {
    const now = Date.now();
    for (const [key, until] of seen) {
      if (until > now) break;
      seen.delete(key);
    }
    if (seen.has(id)) return false;
    seen.set(id, now + defaults.replayWindowMs);
    return true;
  }

  const answers = { client, handler: options.handler, handleBatch: options.handleBatch, recordConcurrency, robotVersion: options.robotVersion };
  const resultLines = (batch: Batch, ctx: BatchContext) => batchResultLines(answers, batch, ctx);

  /** Tells Refinery the whole batch failed; a lost lease is only logged. */
  async function postBatchError(batch: Batch, err: unknown, batchLog: RobotLogger): Promise<void> {
    const error = err instanceof BatchError ? { message: err.message, retryable: err.retryable } : { message: messageOf(err), retryable: true };
    batchLog.warn({ err: error.message, retryable: error.retryable }, 'batch failed');
    try {
      await retryTransient(() => client.postResults(batch.id, { lease_token: batch.lease_token, error }, { signal: AbortSignal.timeout(defaults.postTimeoutMs) }));
      stats.batchErrors++;
    } catch (postErr) {
      batchLog.error({ err: messageOf(postErr) }, 'could not report the batch error; the lease will lapse and the items be retried');
    }
  }

  // ── synchronous: 200 with the results file as the body ────────────────────

  async function answerInline(batch: Batch, response: ServerResponse, batchLog: RobotLogger): Promise<void> {
    const work = new AbortController();
    const onClose = () => {
      if (!response.writableFinished) work.abort(new Error('Refinery closed the connection'));
    };
    response.once('close', onClose);
    const ctx: BatchContext = { batch, signal: work.signal, log: batchLog };
    response.writeHead(200, { 'content-type': pushResultsMediaType });
    try {
      for await (const chunk of encodeJsonLines(resultLines(batch, ctx))) {
        if (!response.write(chunk)) await once(response, 'drain', { signal: work.signal });
      }
      response.end();
      stats.batches++;
      batchLog.info({}, 'results answered inline');
    } catch (err) {
      if (work.signal.aborted) {
        batchLog.warn({ err: messageOf(work.signal.reason) }, 'delivery dropped');
        return;
      }
      // The 200 has begun: report the error through the API, then break the answer off so that
      // Refinery imports nothing from it.
      await postBatchError(batch, err, batchLog);
      response.destroy();
    } finally {
      response.off('close', onClose);
    }
  }

  // ── asynchronous: 202 now, upload and post later ─────────────────────────

  async function workInBackground(batch: Batch, batchLog: RobotLogger): Promise<void> {
    const work = new AbortController();
    const ctx: BatchContext = { batch, signal: work.signal, log: batchLog };
    // Renew the lease every third of it while the work goes on.
    let expiresAt = Date.parse(batch.lease_expires_at);
    const renewal = setInterval(() => {
      client.renew(batch.id, undefined, { signal: work.signal }).then(
        (renewed) => void (expiresAt = Date.parse(renewed.lease_expires_at)),
        (err) => {
          if (err instanceof LeaseLostError || (err instanceof RefineryError && err.status === 404)) work.abort(err);
          else batchLog.warn({ err: messageOf(err) }, 'could not renew the lease');
        },
      );
    }, Math.max(1_000, (expiresAt - Date.now()) / 3));
    try {
      // A lost connection (Refinery restarting) sends the file, then the post, again while the lease lasts.
      const onRetry = (err: unknown, delayMs: number) => batchLog.warn({ err: messageOf(err), retry_in_ms: delayMs }, 'could not hand the results in; retrying');
      await client.uploadResults(batch, resultLines(batch, ctx), { signal: work.signal, retryUntil: () => expiresAt, onRetry });
      clearInterval(renewal);
      await retryTransient(() => client.postResults(batch.id, { lease_token: batch.lease_token }, { signal: AbortSignal.timeout(defaults.postTimeoutMs) }), { until: () => expiresAt, onRetry });
      stats.batches++;
      batchLog.info({}, 'results posted');
    } catch (err) {
      const reason = work.signal.aborted ? work.signal.reason : err;
      if (reason instanceof LeaseLostError) batchLog.warn({ err: reason.message }, 'lease lost; batch dropped');
      else await postBatchError(batch, reason, batchLog);
    } finally {
      clearInterval(renewal);
    }
  }

  // ── the server ────────────────────────────────────────────────────────────

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') throw new HttpRefusal(405, 'method_not_allowed', 'deliveries are POSTed');
    const body = await readBody(request, defaults.maxBodyBytes);
    const headers = {
      'webhook-id': String(request.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
    };
    let batch: unknown;
    try {
      batch = webhook.verify(body.toString('utf8'), headers);
    } catch (err) {
      stats.refused++;
      throw new HttpRefusal(401, 'bad_signature', `the Standard Webhooks signature does not hold: ${messageOf(err)}`);
    }
    if (!isBatch(batch)) throw new HttpRefusal(400, 'invalid_batch', 'the body is not a leased batch');
    if (!rememberId(headers['webhook-id'])) throw new HttpRefusal(409, 'replayed', `delivery ${headers['webhook-id']} was received already`);
    if (stopping.signal.aborted || working.size >= concurrency) {
      seen.delete(headers['webhook-id']);
      throw new HttpRefusal(503, 'busy', 'the robot is busy; retry later', { 'retry-after': String(defaults.busyRetryAfterSeconds) });
    }
    stats.deliveries++;
    const traceparent = request.headers.traceparent;
    if (typeof traceparent === 'string') client.noteTraceparent(batch.id, traceparent);
    const batchLog = withFields(log, { batch_id: batch.id, attempt: batch.attempt });
    batchLog.info({ item_count: batch.item_count, mode }, 'batch delivered');
    let job: Promise<void>;
    if (mode === 'sync') {
      job = answerInline(batch, response, batchLog);
    } else {
      response.writeHead(202, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: batch.id, status: 'accepted' }));
      job = workInBackground(batch, batchLog);
    }
    const tracked = job.finally(() => working.delete(tracked));
    working.add(tracked);
    await tracked;
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((err) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (err instanceof HttpRefusal) {
        if (err.status === 401) log.warn({ err: err.message }, 'delivery refused');
        sendError(response, err.status, err.code, err.message, err.headers);
      } else {
        log.error({ err: messageOf(err) }, 'delivery failed');
        sendError(response, 500, 'internal', 'the robot failed to take the delivery');
      }
    });
  });
  server.listen(options.port ?? 0, options.host ?? defaults.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}/`;
  log.info({ url, robot_id: options.robotId, mode }, 'push robot listening');

  let stopped: Promise<void> | null = null;
  return {
    url,
    port: address.port,
    stats,
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await Promise.allSettled([...working]);
        await closed;
        log.info({ ...stats }, 'push robot stopped');
      })();
      return stopped;
    },
  };
}
