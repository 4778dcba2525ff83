import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A bare HTTP receiver on loopback: answers each POST with what `answer` says, and keeps what it got. */
export async function receiver(answer: (call: { n: number; headers: IncomingMessage['headers']; body: string }, response: ServerResponse) => void | Promise<void>) {
  const calls: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    calls.push({ path: request.url ?? '', headers: request.headers, body });
    await answer({ n: calls.length, headers: request.headers, body }, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    calls,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
