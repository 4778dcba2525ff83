import Type from 'typebox';
import { ApiKeyIn, ApiKeyOut, IdParams, ProvisionedApiKey, RevokedApiKey } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { createApiKey, hashApiKey } from './apiKeys.ts';
import { keyOf } from './authenticate.ts';
import { listApiKeys } from './queries/listApiKeys.ts';
import { revokeApiKeyIfNotLastAdmin } from './queries/revokeApiKeyIfNotLastAdmin.ts';
import { routePlugin } from '../http/index.ts';

export const authRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'config' | 'db' | 'recentKeys'> }>('api-keys', async (app, { ctx }) => {
  app.post('/v1/api-keys', {
    config: { access: 'admin' },
    schema: { tags: ['auth'], summary: 'Create an API key (shown once)', body: ApiKeyIn, response: { 201: ProvisionedApiKey } },
    handler: async (request, reply) => {
      const body = request.body;
      const created = await createApiKey(ctx.db, { name: body.name, role: body.role ?? 'requester', now: ctx.clock.now() });
      return reply.status(201).send({ id: created.id, name: created.name, role: created.role, created_at: created.created_at, key: created.key });
    },
  });

  app.get('/v1/api-keys/me', {
    config: { access: 'requester' },
    schema: { tags: ['auth'], summary: 'The calling key: its id, name and role (the dashboard signs in with it)', response: { 200: Type.Omit(ApiKeyOut, ['created_at']) } },
    handler: async (request) => {
      const key = keyOf(request);
      return { id: key.keyId, name: key.name, role: key.role };
    },
  });

  app.get('/v1/api-keys', {
    config: { access: 'admin' },
    schema: { tags: ['auth'], summary: 'List API keys (never their values)', response: { 200: Type.Object({ data: Type.Array(ApiKeyOut) }) } },
    handler: async () => ({ data: await listApiKeys(ctx.db) }),
  });

  app.delete('/v1/api-keys/:id', {
    config: { access: 'admin' },
    schema: {
      tags: ['auth'],
      summary:
        'Revoke an API key: 401 for it from then on, at once through this process and within 5 s through any other; ' +
        'again: 200 unchanged; the last admin key, or the one REFINERY_ADMIN_KEY sets: 409',
      params: IdParams,
      response: { 200: RevokedApiKey },
    },
    handler: async (request) => {
      const { id } = request.params;
      const revocation = await revokeApiKeyIfNotLastAdmin(ctx.db, {
        id,
        keepHash: ctx.config.adminKey === null ? null : hashApiKey(ctx.config.adminKey),
        now: ctx.clock.now(),
      });
      if (!revocation) throw errors.notFound('API key');
      const { outcome, key } = revocation;
      if (outcome === 'configured') throw errors.configuredAdminKey();
      if (outcome === 'last_admin') throw errors.lastAdminKey();
      ctx.recentKeys.forget(key.key_hash);
      const { key_hash: _hash, ...shown } = key;
      return shown;
    },
  });
});
