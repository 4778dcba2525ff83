import { createServer, type Server, type Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';

/** What the proxy does to the next request whose request line matches. */
export type Fault =
  /** Forwards the request, then drops the connection as the answer arrives: the server did the work, the client never hears. */
  | { drop: 'answer' }
  /** Drops the connection unanswered and stops listening (connections refused) for `forMs`: a server restarting. */
  | { down: number };

/**
 * A TCP proxy on a loopback port in front of a real server, for faults no server would make on
 * cue: an answer lost after the server acted on the request, or the server gone for a while. It
 * reads only each request's first line (HTTP/1.1, one request at a time on a connection).
 */
export interface FaultProxy {
  url: string;
  /** Where connections go from now on (a base URL). */
  forwardTo(url: string): void;
  /** Makes `fault` happen to the next request whose first line (`PUT /v1/blobs/…`) matches; resolves when it has. */
  inject(requestLine: RegExp, fault: Fault): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(): Promise<FaultProxy> {
  let target: { host: string; port: number } | null = null;
  const sockets = new Set<Socket>();
  const faults: Array<{ requestLine: RegExp; fault: Fault; done: () => void }> = [];
  let server: Server;
  let closed = false;

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer(onConnection);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });

  function track(socket: Socket): Socket {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    return socket;
  }

  function onConnection(client: Socket): void {
    track(client);
    if (!target) return void client.destroy();
    const upstream = track(connect(target.port, target.host));
    let dropAnswer = false;
    client.on('data', (chunk: Buffer) => {
      const firstLine = chunk.subarray(0, Math.max(0, chunk.indexOf('\r\n'))).toString('latin1');
      const i = /^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(firstLine) ? faults.findIndex((f) => f.requestLine.test(firstLine)) : -1;
      if (i >= 0) {
        const [{ fault, done }] = faults.splice(i, 1);
        if ('down' in fault) {
          client.destroy();
          upstream.destroy();
          void goDown(fault.down).then(done);
          return;
        }
        dropAnswer = true;
        upstream.once('data', () => {
          client.destroy();
          upstream.destroy();
          done();
        });
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!dropAnswer) client.write(chunk);
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  /** Closes the port and every connection for `ms`, then listens on the same port again. */
  async function goDown(ms: number): Promise<void> {
    const { port } = server.address() as AddressInfo;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await stopped;
    await new Promise((r) => setTimeout(r, ms));
    if (!closed) await listen(port);
  }

  await listen(0);
  const { port } = server!.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwardTo(url) {
      const u = new URL(url);
      target = { host: u.hostname, port: Number(u.port) };
    },
    inject(requestLine, fault) {
      return new Promise((resolve) => faults.push({ requestLine, fault, done: resolve }));
    },
    async close() {
      closed = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}
