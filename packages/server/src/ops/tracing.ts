import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context as TraceContext, type Link, type Span } from '@opentelemetry/api';

/**
 * Refinery's spans (docs/operations.md#traces). Until startTracing registers the SDK this is the
 * API's no-op tracer: the SDK is not even loaded, and the work done only for traces (reading the
 * requests' trace contexts at a lease) is skipped (docs/internals/0026-request-traces.md).
 */
export const tracer = trace.getTracer('refinery');

let provider: Promise<{ forceFlush(): Promise<void> }> | null = null;

/** Whether spans are exported: OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only form) was set when Refinery started. */
export function tracing(): boolean {
  return provider !== null;
}

/**
 * Loads the OpenTelemetry SDK and exports spans over OTLP/HTTP, once per process, when
 * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (the exporter reads
 * those and OTEL_EXPORTER_OTLP_HEADERS itself); otherwise does nothing.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return;
  provider ??= (async () => {
    const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { resourceFromAttributes }] = await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
    ]);
    const sdk = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'refinery' }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(sdk);
    return sdk;
  })();
  await provider;
}

/** Sends the spans ended so far (at shutdown). */
export async function flushTraces(): Promise<void> {
  await (await provider)?.forceFlush();
}

/** Runs `fn` in a span, made current for what it calls; an error thrown ends the span as an error. */
export function inSpan<T>(name: string, options: { kind?: SpanKind; attributes?: Attributes; links?: Link[] }, fn: (span: Span) => Promise<T>, parent: TraceContext = context.active()): Promise<T> {
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

export function failed(span: Span, err: unknown): void {
  span.recordException(err as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
}

/** The `traceparent` of `span`, to hand on (a header, a stored request); undefined when it is not recorded. */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

/** The current span's `traceparent` (and `tracestate`), as headers for an outgoing request; none while not tracing. */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}

/** The trace context a `traceparent` (and `tracestate`) names, or the root when there is none. */
export function contextOf(headers: Record<string, string | string[] | undefined>): TraceContext {
  return propagation.extract(ROOT_CONTEXT, headers);
}

export { SpanKind, SpanStatusCode, trace, context };
