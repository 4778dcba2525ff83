import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { authentication, authRoutes } from './auth/index.ts';
import { automationRoutes } from './automations/index.ts';
import { dashboardRoutes, dashboardStatic } from './dashboard/index.ts';
import { destinyAutomationRoutes, destinyRoutes } from './destiny/index.ts';
import { batchRoutes } from './batches/index.ts';
import { blobRoutes, FileBlobStore } from './blobs/index.ts';
import { errors } from './errors.ts';
import type { Context } from './context.ts';
import { clientErrors, frameworkErrors, guardUnfinishedBodies, installErrorHandler, openapiOptions, parseStorableJson, servers, validatorCompiler } from './http/index.ts';
import { opsRoutes, traceRequests, tracing } from './ops/index.ts';
import { recordRoutes, searchRoutes } from './records/index.ts';
import { requestRoutes } from './requests/index.ts';
import { retentionRoutes } from './retention/index.ts';
import { eventRoutes } from './events/index.ts';
import { robotRoutes } from './robots/index.ts';

/** Default JSON body limit; routes that take more say so. */
const bodyLimit = 1024 * 1024;

/** The HTTP application, without a port: tests `inject` into it, server.ts listens with it. */
export async function buildApp(ctx: Context): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { maxParamLength: 500 },
    frameworkErrors,
    clientErrorHandler: clientErrors,
    // Answered below, in the error shape.
    return503OnClosing: false,
  });
  app.setValidatorCompiler(validatorCompiler);
  parseStorableJson(app);
  installErrorHandler(app);
  guardUnfinishedBodies(app, ctx.config.bodyTimeoutMs);

  const { metrics } = ctx;
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // A request that comes on a connection still open once the server is closing.
    if (closing) {
      reply.header('connection', 'close');
      throw errors.unavailable('Refinery is shutting down; send the request again');
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode }, reply.elapsedTime / 1000);
  });
  if (tracing()) traceRequests(app);

  await app.register(swagger, openapiOptions());
  // /docs: paste a key under Authorize (kept across reloads) and try a call, against this server.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: true, tryItOutEnabled: true },
    transformSpecificationClone: false,
    transformSpecification: (spec, request) => ({ ...spec, servers: servers(ctx.config.publicUrl, request) }),
  });
  app.get('/openapi.json', { schema: { hide: true } }, async (request) => ({ ...app.swagger(), servers: servers(ctx.config.publicUrl, request) }));

  // Public files, registered before the authentication, which makes every later route declare its access.
  await app.register(dashboardStatic);
  await app.register(authentication, { ctx });

  await app.register(opsRoutes, { ctx });
  await app.register(authRoutes, { ctx });
  await app.register(recordRoutes, { ctx });
  await app.register(searchRoutes, { ctx });
  await app.register(robotRoutes, { ctx });
  await app.register(requestRoutes, { ctx });
  await app.register(automationRoutes, { ctx });
  await app.register(retentionRoutes, { ctx });
  await app.register(eventRoutes, { ctx });
  await app.register(dashboardRoutes, { ctx });
  await app.register(batchRoutes, { ctx });
  await app.register(destinyRoutes, { ctx });
  await app.register(destinyAutomationRoutes, { ctx });
  if (ctx.blobs instanceof FileBlobStore) await app.register(blobRoutes, { store: ctx.blobs });
  return app;
}
