/**
 * BENCH_TRACING=1: an OTLP/HTTP receiver in the bench's process that reads and counts what the
 * Refinery under test exports, set as OTEL_EXPORTER_OTLP_ENDPOINT before any Refinery starts.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startTracingSink(): Promise<{ spans(): number; posts(): number; close(): Promise<void> }> {
  let spans = 0;
  let posts = 0;
  const server = createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    posts++;
    spans += text.match(/"spanId"/g)?.length ?? 0;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    spans: () => spans,
    posts: () => posts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
