import Type from 'typebox';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { routePlugin } from '../http/index.ts';

/** How long `/readyz` trusts its last look at the blob store, so that polling it stays cheap. */
const blobsLookMs = 5_000;

const Status = (status: string) => Type.Object({ status: Type.Literal(status) });

export const opsRoutes = routePlugin<{ ctx: Pick<Context, 'blobs' | 'clock' | 'db' | 'metrics'> }>('ops', async (app, { ctx }) => {
  app.get('/healthz', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status('ok') } } }, async () => ({ status: 'ok' }));

  let blobsLook: { at: number; answer: Promise<void> } | null = null;
  const blobsAnswer = () => {
    if (!ctx.blobs.ping) return;
    const now = performance.now();
    if (!blobsLook || now - blobsLook.at > blobsLookMs) blobsLook = { at: now, answer: ctx.blobs.ping() };
    return blobsLook.answer;
  };

  app.get('/readyz', {
    config: { access: 'public' },
    schema: {
      tags: ['operations'],
      summary: 'The database and the blob store answer (503 with Retry-After while one does not)',
      response: { 200: Type.Object({ status: Type.Literal('ready'), blobs: Type.String({ description: 'The blob store in use.' }) }) },
    },
  }, async () => {
    try {
      await ctx.db.query('select 1');
    } catch {
      throw errors.unavailable('the database does not answer');
    }
    try {
      await blobsAnswer();
    } catch (err) {
      throw errors.unavailable(`the blob store (${ctx.blobs.description}) does not answer: ${(err as Error).message}`);
    }
    return { status: 'ready', blobs: ctx.blobs.description };
  });

  app.get('/metrics', {
    config: { access: 'public' },
    schema: {
      tags: ['operations'],
      summary: "Prometheus metrics (this process's counters; docs/metrics.md)",
      response: { 200: { content: { 'text/plain': { schema: Type.String({ description: 'Prometheus text exposition format.' }) } } } },
    },
  }, async (_request, reply) => {
    await ctx.metrics.read(ctx.clock.now());
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
});
