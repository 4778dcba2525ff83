import type { FastifyPluginAsync } from 'fastify';
import { Gauge } from 'prom-client';
import Type from 'typebox';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import type { Metrics } from './metrics.ts';

const Status = (status: string) => Type.Object({ status: Type.Literal(status) });

export const opsRoutes: FastifyPluginAsync<{ ctx: Context; metrics: Metrics }> = async (app, { ctx, metrics }) => {
  // Queue depth and age, read from the database when scraped.
  new Gauge({
    name: 'refinery_items',
    help: 'Items by status (open states only)',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      const { rows } = await ctx.db.query<{ pending: number; leased: number; importing: number }>(
        `select coalesce(sum(n_pending), 0)::int as pending, coalesce(sum(n_leased), 0)::int as leased, coalesce(sum(n_importing), 0)::int as importing from requests where status in ('received', 'processing')`,
      );
      for (const [status, n] of Object.entries(rows[0])) this.set({ status }, n);
    },
  });

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status('ok') } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'The database answers (503 when it does not)', response: { 200: Status('ready') } } }, async () => {
    try {
      await ctx.db.query('select 1');
    } catch {
      throw errors.unavailable('the database does not answer');
    }
    return { status: 'ready' };
  });

  app.get('/metrics', {
    schema: {
      tags: ['operations'],
      summary: "Prometheus metrics (this process's counters; docs/metrics.md)",
      response: { 200: { content: { 'text/plain': { schema: Type.String({ description: 'Prometheus text exposition format.' }) } } } },
    },
  }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
