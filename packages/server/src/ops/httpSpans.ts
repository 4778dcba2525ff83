import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Span } from '@opentelemetry/api';
import { context, contextOf, SpanKind, SpanStatusCode, trace, tracer } from './tracing.ts';

/**
 * A server span per HTTP request, named by its route pattern, child of the caller's `traceparent`.
 * It is made current from preHandler on, once the body is read (a body's stream events would
 * lose it), so that the handler's spans (a lease, an import) are its children. Installed only
 * while tracing.
 */
export function traceRequests(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, ...(route && { 'http.route': route }) } },
      contextOf(request.headers),
    );
    spans.set(request, span);
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (span) context.with(trace.setSpan(context.active(), span), done);
    else done();
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    // A caller's mistake (4xx) is not the server's error.
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
}
