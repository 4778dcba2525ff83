/** JSON Lines (one JSON value a line, UTF-8), read and written as streams. */

export class JsonLinesError extends Error {
  override name = 'JsonLinesError';
  constructor(
    /** 1-based number of the bad line. */
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/**
 * Parses a stream of JSONL bytes (or text) into values, one per non-blank line, holding
 * at most one line in memory. Accepts `\n` and `\r\n`. Throws JsonLinesError for a line
 * that is not JSON.
 */
export async function* parseJsonLines<T = unknown>(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<T> {
  for await (const values of parseJsonLineChunks<T>(chunks)) yield* values;
}

/**
 * The same as parseJsonLines, but yields the values each chunk of the stream completes together:
 * one asynchronous step per chunk rather than per line, for readers that handle many small lines.
 * Holds at most one chunk's values.
 */
export async function* parseJsonLineChunks<T = unknown>(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<T[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let lineNumber = 0;
  const parse = (text: string): T | undefined => {
    lineNumber++;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line.trim() === '') return undefined;
    try {
      return JSON.parse(line) as T;
    } catch (err) {
      throw new JsonLinesError(lineNumber, `not JSON (${(err as Error).message})`);
    }
  };
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const values: T[] = [];
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      const value = parse(pending.slice(start, end));
      start = end + 1;
      if (value !== undefined) values.push(value);
    }
    pending = pending.slice(start);
    if (values.length > 0) yield values;
  }
  pending += decoder.decode();
  const last = parse(pending);
  if (last !== undefined) yield [last];
}

/** Default size of the chunks `encodeJsonLines` yields: 64 KiB. */
export const defaultChunkBytes = 64 * 1024;

/**
 * Serialises values as JSONL bytes, gathering lines into chunks of about `chunkBytes`
 * (so a streamed upload is not one tiny write per line). Holds at most one chunk.
 */
export async function* encodeJsonLines(
  values: AsyncIterable<unknown> | Iterable<unknown>,
  chunkBytes = defaultChunkBytes,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let buffered: string[] = [];
  let bufferedLength = 0;
  for await (const value of values) {
    const line = `${JSON.stringify(value)}\n`;
    buffered.push(line);
    bufferedLength += line.length;
    if (bufferedLength >= chunkBytes) {
      yield encoder.encode(buffered.join(''));
      buffered = [];
      bufferedLength = 0;
    }
  }
  if (buffered.length > 0) yield encoder.encode(buffered.join(''));
}
