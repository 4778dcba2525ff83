import type { Readable } from 'node:stream';

export interface Line {
  number: number;
  text: string;
  /** The line was longer than the limit; `text` is empty and the rest of it was skipped. */
  tooLong: boolean;
}

/**
 * Lines of a UTF-8 stream, one at a time, holding at most `maxBytes` of any line: an over-long
 * line is reported and skipped rather than ending the stream (split2 would stop at it).
 */
export async function* readLines(stream: Readable, maxBytes: number): AsyncIterable<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const finish = (): Line => {
    number++;
    const line = { number, text: tooLong ? '' : Buffer.concat(parts).toString('utf8').replace(/\r$/, ''), tooLong };
    parts = [];
    size = 0;
    tooLong = false;
    return line;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
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
      yield finish();
      start = nl + 1;
    }
  }
  if (size > 0 || tooLong) yield finish();
}
