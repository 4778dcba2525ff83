import { Webhook } from 'standardwebhooks';
import type { Context } from '../context.ts';
import { createService } from '../maintenance/index.ts';
import { claimDeliveries, type ClaimedDelivery } from './queries/claimDeliveries.ts';
import { webhookSecrets } from './webhookSecrets.ts';
import { markDeliveredIfPending } from './queries/markDeliveredIfPending.ts';
import { scheduleDeliveryRetries } from './queries/scheduleDeliveryRetries.ts';
import { writeDueProgress } from './queries/writeDueProgress.ts';
import { inSpan, SpanKind, SpanStatusCode, traceHeaders } from '../ops/index.ts';

export const senderDefaults = {
  /** Time between passes, jittered ±20 %. */
  intervalMs: 1000,
  /** Deliveries claimed per round (each of another request); a pass runs rounds until none is due. */
  batchLimit: 50,
  /** Most rounds in one pass, so a pass ends even while events keep coming. */
  maxRounds: 20,
  /** How long one webhook POST may take before it counts as failed. */
  timeoutMs: 10_000,
  /** How long a claim holds; past it another process may send the delivery again (a receiver dedupes by webhook-id). */
  claimMs: 60_000,
  /** Backoff after a failed attempt: min(cap, base · 2^(attempts−1)) scaled by a random factor in [0.5, 1). */
  backoffBaseMs: 1000,
  backoffCapMs: 60 * 60_000,
};
export type SenderConfig = typeof senderDefaults;

export interface SendResult {
  delivered: number;
  failed: number;
  /** Trailing `request.progress` events written this pass. */
  progressWritten: number;
}

/** The body of a webhook, as Standard Webhooks lays it out: `{type, timestamp, data}`. */
export function webhookBody(event: { type: string; created_at: Date; payload: unknown }): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.created_at).toISOString(), data: event.payload });
}

/** Seconds from a `Retry-After` header (seconds or an HTTP date), or null. */
function retryAfterMs(value: string | null, now: Date): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

/**
 * The outbox sender: delivers the events of requests that have a `callback_url`, signed per
 * Standard Webhooks with the secret of the API key that made the request (`webhook-id` is the
 * event id), in order per request, retried with backoff until a 2xx. Any number of processes may
 * run it: deliveries are claimed with `for update skip locked`. Each pass first writes the
 * trailing progress events the throttle held back.
 */
export function createEventSender({ ctx, config = {} }: { ctx: Context; config?: Partial<SenderConfig> }) {
  const settings = { ...senderDefaults, ...config };

  type Sent = { ok: true } | { ok: false; error: string; retryAfterMs: number | null };
  function send(delivery: ClaimedDelivery, secret: string): Promise<Sent> {
    const attributes = { 'refinery.request_id': delivery.request_id, 'refinery.event_id': delivery.id, 'refinery.attempt': delivery.attempts };
    return inSpan('refinery.webhook.deliver', { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const sent = await sendInSpan(delivery, secret);
      if (!sent.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: sent.error });
      return sent;
    });
  }

  async function sendInSpan(delivery: ClaimedDelivery, secret: string): Promise<Sent> {
    const body = webhookBody(delivery);
    const sentAt = ctx.clock.now();
    const signature = new Webhook(secret).sign(delivery.id, sentAt, body);
    try {
      const res = await fetch(delivery.callback_url, {
        method: 'POST',
        headers: { ...traceHeaders(), 'content-type': 'application/json', 'user-agent': 'Refinery-Webhooks/1', 'webhook-id': delivery.id, 'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)), 'webhook-signature': signature },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return { ok: false, error: `the receiver answered ${res.status}`, retryAfterMs: retryAfterMs(res.headers.get('retry-after'), sentAt) };
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const message = (err as Error).name === 'TimeoutError' ? `no answer within ${settings.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message);
      return { ok: false, error: `sending failed: ${message}`, retryAfterMs: null };
    }
  }

  async function runOnce(): Promise<SendResult> {
    const result: SendResult = { delivered: 0, failed: 0, progressWritten: 0 };
    result.progressWritten = await writeDueProgress(ctx.db, { now: ctx.clock.now(), limit: 1000 });
    for (let round = 0; round < settings.maxRounds; round++) {
      const now = ctx.clock.now();
      const claimed = await claimDeliveries(ctx.db, { now, claimMs: settings.claimMs, limit: settings.batchLimit });
      if (claimed.length === 0) break;
      const secrets = await webhookSecrets(ctx, claimed.map((d) => d.requested_by));
      const outcomes = await Promise.all(
        claimed.map(async (d) => {
          const secret = secrets.get(d.requested_by);
          const outcome = secret ? await send(d, secret) : ({ ok: false, error: 'the API key that made the request no longer exists', retryAfterMs: null } as const);
          return { d, outcome };
        }),
      );
      const after = ctx.clock.now();
      const delivered = outcomes.filter((o) => o.outcome.ok).map((o) => o.d.id);
      const failures = outcomes.flatMap(({ d, outcome }) => (outcome.ok ? [] : [{ eventId: d.id, error: outcome.error, retryAfterMs: outcome.retryAfterMs }]));
      await markDeliveredIfPending(ctx.db, { eventIds: delivered, now: after });
      await scheduleDeliveryRetries(ctx.db, { failures, now: after, baseMs: settings.backoffBaseMs, capMs: settings.backoffCapMs });
      for (const { d, outcome } of outcomes) {
        if (!outcome.ok) ctx.log.warn({ event_id: d.id, request_id: d.request_id, attempts: d.attempts, error: outcome.error }, 'webhook delivery failed; it will be retried');
      }
      result.delivered += delivered.length;
      result.failed += failures.length;
      ctx.metrics.webhookDeliveries.inc({ outcome: 'delivered' }, delivered.length);
      ctx.metrics.webhookDeliveries.inc({ outcome: 'failed' }, failures.length);
    }
    return result;
  }

  return createService({ name: 'webhook-sender', intervalMs: settings.intervalMs, log: ctx.log, metrics: ctx.metrics, runOnce, touched: (r) => r.delivered + r.failed });
}
export type EventSender = ReturnType<typeof createEventSender>;
