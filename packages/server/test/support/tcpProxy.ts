import net from 'node:net';

/** A host and port to forward to. */
export interface ProxyTarget {
  host: string;
  port: number;
}

/** What happens to an HTTP request a fault is set on (TcpProxy.failNext). */
export type Fault =
  /** It reaches the server, which acts on it; its answer is lost (both connections closed as it arrives). */
  | { loseAnswer: true }
  /** The network is cut as it arrives (it goes unanswered) and restored `cutMs` later: a server restarting. */
  | { cutMs: number };

/**
 * A TCP proxy on a loopback port in front of `target` (host:port), whose network can be cut: every
 * connection through it reset and new ones dropped as they arrive, until it is restored. What a
 * process sees of a database that restarts, or of a network that fails, without touching the
 * database that others share. In front of an HTTP server it can also fail one request picked by
 * its request line (HTTP/1.1, whose requests each start a chunk).
 */
export interface TcpProxy {
  /** The proxy's address, `http://127.0.0.1:<port>`. */
  url: string;
  /** `url` with its host and port made the proxy's. */
  via(url: string): string;
  /** Where new connections go from now on. */
  forwardTo(target: ProxyTarget): void;
  /** Resets every open connection and drops new ones until `restore`. */
  cut(): void;
  restore(): void;
  /** Makes `fault` happen to the next request whose first line (`PUT /v1/blobs/… HTTP/1.1`) matches; resolves once it has. */
  failNext(requestLine: RegExp, fault: Fault): Promise<void>;
  close(): Promise<void>;
}

/** A proxy to `target`; without one, connections are dropped until `forwardTo` names it. */
export async function tcpProxy(target: ProxyTarget | null = null): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const faults: Array<{ requestLine: RegExp; fault: Fault; done: () => void }> = [];
  let cut = false;
  const server = net.createServer((client) => {
    if (cut || !target) return void client.resetAndDestroy();
    const upstream = net.connect(target);
    open.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    /** Set while the answer to a request is to be lost. */
    let answerLost: (() => void) | null = null;
    // Both listeners come before the pipes', so that they act before a chunk is passed on.
    client.on('data', (chunk: Buffer) => {
      if (faults.length === 0) return;
      const line = chunk.subarray(0, Math.max(0, chunk.indexOf('\r\n'))).toString('latin1');
      const i = /^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line) ? faults.findIndex((f) => f.requestLine.test(line)) : -1;
      if (i < 0) return;
      const [{ fault, done }] = faults.splice(i, 1);
      if ('loseAnswer' in fault) return void (answerLost = done);
      proxy.cut();
      setTimeout(() => {
        proxy.restore();
        done();
      }, fault.cutMs);
    });
    upstream.on('data', () => {
      if (!answerLost) return;
      end();
      answerLost();
    });
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}`,
    via(url) {
      const u = new URL(url);
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    forwardTo(to) {
      target = to;
    },
    cut() {
      cut = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      cut = false;
    },
    failNext(requestLine, fault) {
      return new Promise((done) => faults.push({ requestLine, fault, done }));
    },
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
