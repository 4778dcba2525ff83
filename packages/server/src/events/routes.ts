import Type from 'typebox';
import { EventsQuery, IdParams, requestFinalStatuses, WebhookSecretOut } from '@refinery/protocol';
import { keyOf } from '../auth/index.ts';
import type { Context } from '../context.ts';
import { visibleRequestOf } from '../requests/index.ts';
import { webhookSecrets } from './webhookSecrets.ts';
import { listEventsAfter } from './queries/listEventsAfter.ts';
import { EventSignals } from './signals.ts';
import { routePlugin } from '../http/index.ts';

export const streamDefaults = {
  /** A stream re-reads the events table this often even without a NOTIFY (a lost LISTEN connection). */
  pollMs: 1000,
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs: 15_000,
  /** Events read per query. */
  pageSize: 500,
};

/** The final event: it ends a stream. */
const finalEvent = 'request.finished';

export const eventRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'db' | 'keys'> }>('events', async (app, { ctx }) => {
  const signals = new EventSignals(ctx.db);
  await signals.start();
  /** Open streams, ended when the server closes (an open stream would keep it from closing). */
  const open = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const c of open) c.abort();
  });
  app.addHook('onClose', async () => signals.stop());

  app.get('/v1/webhook-secret', {
    config: { access: 'requester' },
    schema: {
      tags: ['requests'],
      summary: "The calling key's Standard Webhooks secret, which signs the webhooks of the requests it makes",
      response: { 200: WebhookSecretOut },
    },
    handler: async (request) => {
      const key = keyOf(request);
      const secrets = await webhookSecrets(ctx, [key.keyId]);
      return { secret: secrets.get(key.keyId)! };
    },
  });

  app.get('/v1/requests/:id/events', {
    config: { access: 'requester' },
    schema: {
      tags: ['requests'],
      summary: 'Server-Sent Events: request.started, request.progress (throttled), request.finished (ends the stream); Last-Event-ID resumes',
      params: IdParams,
      querystring: EventsQuery,
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })) }),
      response: { 200: { content: { 'text/event-stream': { schema: Type.String() } } } },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const row = await visibleRequestOf(ctx, request, id);
      const query = request.query;
      let after = (request.headers['last-event-id'] as string | undefined) ?? query.last_event_id ?? '0';
      const finalAtStart = (requestFinalStatuses as readonly string[]).includes(row.status);

      // Woken before the first read, so an event written between a read and the wait is not missed.
      let woken = false;
      let wake = () => {};
      const unwatch = signals.watch(id, () => {
        woken = true;
        wake();
      });
      const closed = new AbortController();
      open.add(closed);
      reply.raw.on('close', () => closed.abort());
      closed.signal.addEventListener('abort', () => wake());

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      res.write(`retry: 2000\n\n`);
      let lastWrite = Date.now();
      try {
        for (;;) {
          woken = false;
          const events = await listEventsAfter(ctx.db, { requestId: id, afterId: after, limit: streamDefaults.pageSize });
          for (const e of events) {
            res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.payload)}\n\n`);
            after = e.id;
            if (e.type === finalEvent) return;
          }
          if (events.length > 0) lastWrite = Date.now();
          if (events.length === streamDefaults.pageSize) continue;
          // A request already final when the stream opened has nothing more to come.
          if (finalAtStart) return;
          if (closed.signal.aborted) return;
          if (!woken) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, streamDefaults.pollMs);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = () => {};
          }
          if (closed.signal.aborted) return;
          if (Date.now() - lastWrite >= streamDefaults.heartbeatMs) {
            res.write(`: keep-alive\n\n`);
            lastWrite = Date.now();
          }
        }
      } catch (err) {
        request.log.warn({ err, request_id: id }, 'event stream failed');
      } finally {
        unwatch();
        open.delete(closed);
        res.end();
      }
    },
  });
});
