import type { FastifyPluginAsync } from 'fastify';
import { Gauge } from 'prom-client';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import type { Metrics } from './metrics.ts';

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

  app.get('/healthz', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'The process is up', hide: false } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'The database answers (503 with Retry-After while it does not)' } }, async () => {
    try {
      await ctx.db.query('select 1');
      return { status: 'ready' };
    } catch {
      throw errors.unavailable();
    }
  });

  app.get('/metrics', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
