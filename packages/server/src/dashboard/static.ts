import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * The dashboard's built files (packages/dashboard, built into this package's `ui/`): the same path
 * from src/dashboard/ and from dist/dashboard/.
 */
export const dashboardDir = fileURLToPath(new URL('../../ui/', import.meta.url));

/**
 * The dashboard at /ui, and / sent there. Its pages are public files: everything it shows comes
 * from the API, with the key the user signs in with.
 */
export const dashboardStatic: FastifyPluginAsync = async (app) => {
  const config = { access: 'public' as const };
  app.get('/', { config, schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  if (!existsSync(dashboardDir)) {
    app.log.warn({ dir: dashboardDir }, 'the dashboard is not built (npm run build); /ui is not served');
    return;
  }
  await app.register(fastifyStatic, { root: dashboardDir, prefix: '/ui/', wildcard: false, index: 'index.html', redirect: true, schemaHide: true });
  // The page's own routes (/ui/requests/…) are the same page: it reads its path.
  app.get('/ui/*', { config, schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').sendFile('index.html', dashboardDir));
};
