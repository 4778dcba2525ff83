/** A real HTTP server on 127.0.0.1 for the SDK's tests: routes are plain functions. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSignedRequest, signatureMatches } from '@refinery/protocol';

export interface Received {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface Reply {
  status: number;
  json?: unknown;
  /** A raw body, or chunks written one by one (with `delayMs` between them). */
  body?: string | string[];
  delayMs?: number;
  headers?: Record<string, string>;
}

export type Route = (req: Received) => Reply | Promise<Reply>;

export interface TestServer {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** Starts a server answering each request with `route`; the body is read whole first. */
export async function startServer(route: Route): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: Received = { method: req.method!, url: new URL(req.url!, `http://${req.headers.host}`), headers: req.headers, body: Buffer.concat(chunks) };
    received.push(request);
    try {
      const reply = await route(request);
      const headers = { ...reply.headers };
      if (reply.json !== undefined) headers['content-type'] = 'application/json';
      res.writeHead(reply.status, headers);
      if (reply.json !== undefined) return void res.end(JSON.stringify(reply.json));
      for (const chunk of Array.isArray(reply.body) ? reply.body : [reply.body ?? '']) {
        res.write(chunk);
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      }
      res.end();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'test_route_failed', message: String(err) } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Checks a robot's signature the way Refinery does; the robot id it was made with, or throws. */
export function verifyRobotSignature(req: Received, secrets: Record<string, string>): string {
  const parsed = parseSignedRequest({
    method: req.method,
    targetUri: req.url.href,
    body: req.body,
    headers: req.headers,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  const secret = secrets[parsed.keyId];
  if (secret === undefined || !signatureMatches(parsed, [secret])) throw new Error('bad signature');
  return parsed.keyId;
}

export function errorReply(status: number, code: string, message: string): Reply {
  return { status, json: { error: { code, message } } };
}
