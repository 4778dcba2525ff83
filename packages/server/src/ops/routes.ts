import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';

const Status = (status: string) => Type.Object({ status: Type.Literal(status) });

export const opsRoutes: FastifyPluginAsync<{ ctx: Context }> = async (app, { ctx }) => {
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
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
};
