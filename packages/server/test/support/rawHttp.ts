import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any;
}

export interface Upload {
  /** The answer, whenever it comes (the server may answer before the body ends). */
  answer: Promise<Answer>;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
  write(text: string | Buffer): void;
  end(text?: string): void;
  /** Drops the connection, as a client that vanishes. */
  abort(): void;
}

/**
 * A request whose chunked body the test sends piece by piece, on a connection of its own: it can
 * pause (stall), end, or drop the connection midway.
 */
export function openUpload(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Upload {
  const req = httpRequest(url, { method: options.method ?? 'POST', headers: { ...options.headers, 'transfer-encoding': 'chunked' }, agent: false });
  req.on('error', () => {});
  req.flushHeaders();
  const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
      res.on('error', reject);
    });
  });
  answer.catch(() => {});
  return {
    answer,
    closed,
    write: (text) => void req.write(text),
    end: (text) => void req.end(text),
    abort: () => req.destroy(),
  };
}

/**
 * Sends `bytes` as they are on a new connection and reads everything the server sends back until
 * it closes the connection: that it closes is part of what is checked. Parses the first answer.
 */
export function exchange(url: string, bytes: string | Buffer): Promise<Answer & { raw: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, ...rest] = raw.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: IncomingHttpHeaders = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      const length = Number(headers['content-length'] ?? -1);
      const text = rest.join('\r\n\r\n');
      let body: unknown = text;
      try {
        body = JSON.parse(length >= 0 ? Buffer.from(text).subarray(0, length).toString() : text);
      } catch {
        // not JSON
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, raw });
    });
    socket.write(bytes);
  });
}
