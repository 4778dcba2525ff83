import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { ApiKeyIn, ApiKeyOut, ProvisionedApiKey, type Role } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { createApiKey } from './apiKeys.ts';
import { listApiKeys } from './queries/listApiKeys.ts';

export const authRoutes: FastifyPluginAsync<{ ctx: Context }> = async (app, { ctx }) => {
  app.post('/v1/api-keys', {
    config: { access: 'admin' },
    schema: { tags: ['auth'], summary: 'Create an API key (shown once)', body: ApiKeyIn, response: { 201: ProvisionedApiKey } },
    handler: async (request, reply) => {
      const body = request.body as { name: string; role?: Role };
      const created = await createApiKey(ctx.db, { name: body.name, role: body.role ?? 'requester', now: ctx.clock.now() });
      return reply.status(201).send({ id: created.id, name: created.name, role: created.role, created_at: created.created_at, key: created.key });
    },
  });

  app.get('/v1/api-keys', {
    config: { access: 'admin' },
    schema: { tags: ['auth'], summary: 'List API keys (never their values)', response: { 200: Type.Object({ data: Type.Array(ApiKeyOut) }) } },
    handler: async () => ({ data: await listApiKeys(ctx.db) }),
  });
};
