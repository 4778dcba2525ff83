import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Webhook } from 'standardwebhooks';
import { pushMessageId, pushSigningSecret } from '@refinery/protocol';
import { getRobotSecrets } from '../auth/index.ts';
import type { Context } from '../context.ts';
import { openRobotSecret } from '../keys/index.ts';
import { batchOut, type BatchRow, failBatchIfLeased, failLeasedBatch, importResults, retryOrFailItems, startImportIfLeased } from '../batches/index.ts';
import { destinyDelivery, robotResultOf } from '../destiny/index.ts';
import { AppError } from '../errors.ts';
import { afterRequestsFinished, finishRequestsIfDone } from '../requests/index.ts';
import type { RobotRow } from '../robots/index.ts';
import { notifyRetries, notifyWork } from '../work/index.ts';
import { deferBatchIfLeased } from './queries/deferBatchIfLeased.ts';
import { retryAfterMs } from './retryAfter.ts';
import { context, contextOf, inSpan, SpanKind, SpanStatusCode, traceHeaders } from '../ops/index.ts';

/** How one delivery ended. */
export type DeliveryOutcome =
  /** 200: the results came inline and were imported. */
  | { batchId: string; outcome: 'imported' }
  /** 202 (or another 2xx): the robot posts its results later, within the lease. */
  | { batchId: string; outcome: 'accepted' }
  /** 429/503 with Retry-After: the items wait until `until`, the attempt not counted. */
  | { batchId: string; outcome: 'deferred'; until: Date }
  /** No usable answer: the attempt counts; the items retry after a backoff or fail. */
  | { batchId: string; outcome: 'failed'; message: string; /** The robot's HTTP status; none: no answer. */ status: string }
  /** The batch had moved on meanwhile (its lease lapsed, its request was cancelled…): nothing done. */
  | { batchId: string; outcome: 'superseded' }
  /** The dispatcher stopped during the delivery: the batch was given back, the attempt not counted. */
  | { batchId: string; outcome: 'interrupted' };

export interface DeliverySettings {
  /** Time allowed from the POST until the answer's status line and headers. */
  timeoutMs: number;
  /** Shortest and longest Retry-After honoured (a `Retry-After: 0` must not make a busy loop). */
  minRetryAfterMs: number;
  maxRetryAfterMs: number;
  /** Aborted when the dispatcher stops: the delivery is cut short and its batch given back. */
  signal?: AbortSignal;
}

/** Longest piece of an error answer's body quoted in the items' error message. */
const quotedBodyChars = 200;

/** Standard Webhooks headers; one `v1,` signature per live robot secret, so a rotation breaks no robot. */
function webhookHeaders(secrets: string[], id: string, at: Date, body: string): Record<string, string> {
  const signatures = secrets.map((s) => new Webhook(pushSigningSecret(s)).sign(id, at, body));
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signatures.join(' ') };
}

/** The batch as Refinery POSTs it (docs/push.md): the lease's answer, signed per Standard Webhooks. */
async function refineryDelivery(ctx: Context, batch: BatchRow, url: string, secrets: string[]) {
  const body = JSON.stringify(await batchOut(ctx, batch));
  return { url, body, headers: { 'content-type': 'application/json', ...webhookHeaders(secrets, pushMessageId(batch.id, batch.attempt), ctx.clock.now(), body) } };
}

class DeliveryTimeout extends Error {}
class DeliveryInterrupted extends Error {}

/** What a failed fetch means, in words for the items' error message. */
function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof DeliveryTimeout) return `no answer within ${timeoutMs / 1000} s`;
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const byCode: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found (DNS)',
    EHOSTUNREACH: 'host unreachable',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_SOCKET: 'connection closed',
  };
  if (cause?.code && byCode[cause.code]) return byCode[cause.code]!;
  return cause?.message ?? (err as Error)?.message ?? String(err);
}

/** The start of an error answer's body (never more than a few KiB read), for the message. */
async function quote(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  try {
    for (let bytes = 0; bytes < 4096; ) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.length;
    }
  } catch {
    // a body that breaks off says what it said so far
  }
  await reader.cancel().catch(() => {});
  const text = Buffer.concat(chunks).toString('utf8');
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed === '') return '';
  return `: ${trimmed.length > quotedBodyChars ? trimmed.slice(0, quotedBodyChars) + '…' : trimmed}`;
}

/** The dispatcher stopped mid-delivery: the items go back at once, the attempt not counted. */
async function interrupted(ctx: Context, batch: BatchRow): Promise<DeliveryOutcome> {
  const now = ctx.clock.now();
  const message = 'the delivery was interrupted by a Refinery shutdown; it will be delivered again (no attempt counted)';
  const given = await deferBatchIfLeased(ctx.db, { id: batch.id, leaseToken: batch.lease_token, until: now, code: 'delivery_interrupted', message, now });
  if (given) await notifyWork(ctx.db, [batch.robot_id]);
  return { batchId: batch.id, outcome: given ? 'interrupted' : 'superseded' };
}

/** A failed attempt: the batch fails, its items retry after a backoff while attempts remain, else fail with `message`. */
async function failDelivery(ctx: Context, batch: BatchRow, message: string, status: number | null): Promise<DeliveryOutcome> {
  const now = ctx.clock.now();
  const failed = await ctx.db.transaction(async (tx) => {
    if (!(await failBatchIfLeased(tx, { id: batch.id, robotId: batch.robot_id, leaseToken: batch.lease_token, message, now }))) return null;
    const moved = await retryOrFailItems(tx, { batchIds: [batch.id], code: 'delivery_failed', message, retryable: true, now });
    await notifyRetries(tx, moved.retries);
    return { moves: moved.moves, finished: await finishRequestsIfDone(tx, { requestIds: moved.requestIds, now }) };
  });
  if (failed === null) return { batchId: batch.id, outcome: 'superseded' };
  ctx.metrics.itemsMoved(failed.moves);
  afterRequestsFinished(ctx, failed.finished);
  return { batchId: batch.id, outcome: 'failed', message, status: status === null ? 'none' : String(status) };
}

/**
 * POSTs one leased batch to its push robot and acts on the answer (docs/push.md):
 * 200 → the body is the results file, imported as if PUT and posted (a DESTINY robot's: its
 * RobotResult, the results uploaded already: docs/destiny.md); 202 → the robot posts later;
 * 429/503 with Retry-After → deferred without counting the attempt; anything else → a failed attempt.
 */
export function deliverBatch(ctx: Context, robot: RobotRow, batch: BatchRow, settings: DeliverySettings): Promise<DeliveryOutcome> {
  // A child of the lease's span; the robot gets this span as its `traceparent`.
  const parent = batch.traceparent ? contextOf({ traceparent: batch.traceparent }) : context.active();
  const attributes = { 'refinery.robot_id': robot.id, 'refinery.batch_id': batch.id, 'refinery.attempt': batch.attempt };
  return inSpan('refinery.push.deliver', { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const delivered = await deliverInSpan(ctx, robot, batch, settings);
    span.setAttribute('refinery.outcome', delivered.outcome);
    if (delivered.outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: delivered.message });
    return delivered;
  }, parent);
}

async function deliverInSpan(ctx: Context, robot: RobotRow, batch: BatchRow, settings: DeliverySettings): Promise<DeliveryOutcome> {
  const { delivery } = robot;
  if (delivery.mode !== 'push') throw new Error(`robot ${robot.id} is not a push robot`);
  const log = ctx.log.child({ batch_id: batch.id, robot_id: robot.id, attempt: batch.attempt });
  const secrets = (await getRobotSecrets(ctx.db, { robotId: robot.id, now: ctx.clock.now() })).map((s) => openRobotSecret(ctx.keys, robot.id, s));
  const destinyRobot = robot.protocol === 'destiny';
  // A DESTINY robot is POSTed a RobotRequest at <base_url>/batch/, signed as DESTINY signed it (docs/destiny.md).
  const { url, body, headers } = destinyRobot
    ? await destinyDelivery(ctx, batch, robot.id, delivery.url, secrets[0])
    : await refineryDelivery(ctx, batch, delivery.url, secrets);

  const abort = new AbortController();
  const onShutdown = () => abort.abort(new DeliveryInterrupted());
  if (settings.signal?.aborted) onShutdown();
  settings.signal?.addEventListener('abort', onShutdown, { once: true });
  const cutShort = () => abort.signal.reason instanceof DeliveryInterrupted;
  let timer = setTimeout(() => abort.abort(new DeliveryTimeout()), settings.timeoutMs);
  try {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { ...headers, ...traceHeaders(), 'user-agent': 'Refinery push' }, body, redirect: 'manual', signal: abort.signal });
    } catch (err) {
      if (cutShort()) return await interrupted(ctx, batch);
      const message = `push delivery to ${url} failed: ${describeFetchError(abort.signal.aborted ? abort.signal.reason : err, settings.timeoutMs)}`;
      log.warn({ err: message }, 'push delivery failed');
      return await failDelivery(ctx, batch, message, null);
    }
    // The answer has begun: its body may take until the lease ends.
    clearTimeout(timer);
    const leaseLeftMs = batch.lease_expires_at.getTime() - ctx.clock.now().getTime();
    timer = setTimeout(() => abort.abort(new DeliveryTimeout()), Math.max(settings.timeoutMs, leaseLeftMs));

    if (response.status === 200 && destinyRobot) {
      // DESTINY's 200 is the robot's RobotResult, its result file uploaded already.
      const result = await robotResultOf(response, batch.id);
      if (!result) return await failDelivery(ctx, batch, `push delivery to ${url} failed: the robot answered 200 without a RobotResult for this batch`, response.status);
      if (result.error !== null) {
        try {
          await failLeasedBatch(ctx, batch, { leaseToken: batch.lease_token, message: result.error, retryable: false, repeat: 'refuse' });
        } catch (err) {
          if (err instanceof AppError) return { batchId: batch.id, outcome: 'superseded' };
          throw err;
        }
        return { batchId: batch.id, outcome: 'failed', message: result.error, status: String(response.status) };
      }
    } else if (response.status === 200) {
      try {
        await ctx.blobs.put(batch.results_key, response.body ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) : Readable.from([]));
      } catch (err) {
        if (cutShort()) return await interrupted(ctx, batch);
        const message = `push delivery to ${url} failed: the 200 answer broke off (${describeFetchError(abort.signal.aborted ? abort.signal.reason : err, settings.timeoutMs)})`;
        log.warn({ err: message }, 'push delivery failed');
        return await failDelivery(ctx, batch, message, response.status);
      }
    }
    if (response.status === 200) {
      const now = ctx.clock.now();
      const started = await startImportIfLeased(ctx, { id: batch.id, robotId: robot.id, leaseToken: batch.lease_token, importLeaseMs: ctx.config.importLeaseMs, now });
      if (!started) {
        log.warn({}, 'inline results came after the batch had moved on (lease lapsed or request ended); nothing imported');
        return { batchId: batch.id, outcome: 'superseded' };
      }
      await ctx.background.run('import', { batch_id: batch.id }, () => importResults(ctx, batch.id, started.context));
      return { batchId: batch.id, outcome: 'imported' };
    }
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => {});
      return { batchId: batch.id, outcome: 'accepted' };
    }
    if (response.status === 429 || response.status === 503) {
      const waitMs = retryAfterMs(response.headers.get('retry-after'), ctx.clock.now());
      if (waitMs !== null) {
        await response.body?.cancel().catch(() => {});
        const now = ctx.clock.now();
        const until = new Date(now.getTime() + Math.min(Math.max(waitMs, settings.minRetryAfterMs), settings.maxRetryAfterMs));
        const message = `the robot answered ${response.status} with Retry-After; delivery retried after ${until.toISOString()} (no attempt counted)`;
        if (!(await deferBatchIfLeased(ctx.db, { id: batch.id, leaseToken: batch.lease_token, until, code: 'robot_busy', message, now }))) return { batchId: batch.id, outcome: 'superseded' };
        log.info({ until }, 'push robot asked for time; batch deferred');
        return { batchId: batch.id, outcome: 'deferred', until };
      }
    }
    const message = `push delivery to ${url} failed: the robot answered ${response.status}${response.statusText ? ' ' + response.statusText : ''}${await quote(response)}`;
    log.warn({ err: message }, 'push delivery failed');
    return await failDelivery(ctx, batch, message, response.status);
  } finally {
    clearTimeout(timer);
    settings.signal?.removeEventListener('abort', onShutdown);
  }
}
