import type { Readable } from 'node:stream';

export interface Line {
  number: number;
  text: string;
  /** The line was longer than the limit; `text` is empty and the rest of it was skipped. */
  tooLong: boolean;
}

/**
 * Lines of a UTF-8 stream, the lines each chunk completes at a time (one asynchronous step per
 * chunk, not per line), holding at most `maxBytes` of any line: an over-long line is reported and
 * skipped rather than ending the stream (split2 would stop at it).
 */
export async function* readLines(stream: Readable, maxBytes: number): AsyncIterable<Line[]> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const finish = (): Line => {
    number++;
    const text = tooLong ? '' : parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts).toString('utf8');
    const line = { number, text: text.endsWith('\r') ? text.slice(0, -1) : text, tooLong };
    parts = [];
    size = 0;
    tooLong = false;
    return line;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const lines: Line[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!tooLong) {
        size += end - start;
        if (size > maxBytes) {
          tooLong = true;
          parts = [];
        } else if (end > start) parts.push(chunk.subarray(start, end));
      }
      if (nl === -1) break;
      lines.push(finish());
      start = nl + 1;
    }
    if (lines.length > 0) yield lines;
  }
  if (size > 0 || tooLong) yield [finish()];
}
