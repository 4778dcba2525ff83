/** The ops capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { traceRequests } from './httpSpans.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export { opsRoutes } from './routes.ts';
export { SpanKind, SpanStatusCode, context, contextOf, flushTraces, inSpan, startTracing, trace, traceHeaders, traceparentOf, tracer, tracing } from './tracing.ts';
