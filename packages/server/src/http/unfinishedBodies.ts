import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.ts';

interface Watched {
  raw: NodeJS.ReadableStream & { readableLength: number };
  body: Transform;
  /** Chunks passed on so far, and as seen at the last tick. */
  chunks: number;
  seen: number;
  /** When the body last moved, or began to be waited for. */
  since: number;
}

/**
 * Request bodies still arriving hold only what their client sends, and not for long:
 * - a body that sends nothing for `timeoutMs` while Refinery waits for it ends in 408. The wait
 *   counts only while everything received has been read: data buffered on Refinery's side means
 *   Refinery is behind, not the client. The route reading the body fails with the 408 and lets go
 *   of what it holds; only a body's route ever waits for it, so long polls and event streams,
 *   which wait with their bodies complete, are not timed.
 * - any answer sent before its body was read to the end closes the connection: the rest of that
 *   body would otherwise be read as the next request, or never read and the next request never
 *   answered.
 */
export function guardUnfinishedBodies(app: FastifyInstance, timeoutMs: number): void {
  const watched = new Set<Watched>();
  let ticker: NodeJS.Timeout | null = null;
  const tick = () => {
    const now = Date.now();
    for (const w of watched) {
      if (w.chunks !== w.seen || w.raw.readableLength > 0 || w.body.readableLength > 0) {
        w.seen = w.chunks;
        w.since = now;
      } else if (now - w.since >= timeoutMs) {
        watched.delete(w);
        w.body.destroy(errors.bodyTimeout(timeoutMs));
      }
    }
    if (watched.size === 0 && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  };

  app.addHook('preParsing', (request, _reply, payload, done) => {
    const raw = request.raw;
    // Most bodies are whole by now (they came with the headers): nothing to time.
    if (raw.complete) return done(null, payload);
    const w: Watched = {
      raw,
      chunks: 0,
      seen: 0,
      since: Date.now(),
      body: new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          w.chunks++;
          (this as unknown as { receivedEncodedLength: number }).receivedEncodedLength += chunk.length;
          callback(null, chunk);
        },
      }),
    };
    (w.body as unknown as { receivedEncodedLength: number }).receivedEncodedLength = 0;
    // A body ended with an error nobody is reading yet must not crash the process: its reader gets the error when it reads.
    w.body.on('error', () => {});
    const forget = () => watched.delete(w);
    raw.once('end', forget);
    raw.once('close', forget);
    raw.on('error', (err) => {
      forget();
      w.body.destroy(err);
    });
    w.body.once('close', forget);
    raw.pipe(w.body);
    watched.add(w);
    ticker ??= setInterval(tick, Math.min(1000, timeoutMs / 4)).unref();
    done(null, w.body);
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) reply.header('connection', 'close');
    done(null, payload);
  });
}
