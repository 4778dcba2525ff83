import type { Readable } from 'node:stream';
import split2 from 'split2';
import { AppError, errors } from '../errors.ts';

/** The largest record, as sent (its JSON text: a JSONL line, or an element of a JSON array). */
export const maxRecordBytes = 1024 * 1024;

const tooLarge = (record: number) => errors.payloadTooLarge(`record ${record} is larger than ${maxRecordBytes} bytes (1 MiB), the limit for one record`);

/** Parsed values from a JSONL body, one per non-blank line. */
async function* jsonLines(body: Readable): AsyncIterable<unknown> {
  let line = 0;
  let record = 0;
  const lines = body.pipe(split2({ maxLength: maxRecordBytes }));
  body.on('error', (err) => lines.destroy(err));
  try {
    for await (const text of lines as AsyncIterable<string>) {
      line++;
      if (text.trim() === '') continue;
      record++;
      // split2's maxLength only bounds an unfinished line; a whole line in one chunk passes it.
      if (Buffer.byteLength(text) > maxRecordBytes) throw tooLarge(record);
      try {
        yield JSON.parse(text);
      } catch {
        throw errors.invalidRequest(`line ${line} is not valid JSON`);
      }
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (/maxLength|maximum buffer/i.test(String((err as Error).message))) throw tooLarge(record + 1);
    throw err;
  }
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Parsed elements of a JSON array body. Each element's text is cut out by its brackets and quotes
 * and parsed alone, so a record's size is known exactly (the limit is the same as a JSONL line's)
 * and no more than one record is ever held: a streaming parser would build a record of any size.
 */
async function* jsonArrayElements(body: Readable): AsyncIterable<unknown> {
  const notAnArray = (why: string) => errors.invalidRequest(`body is not a JSON array of records: ${why}`);
  /** Before the `[`; before an element or `]` (first) or an element (after a comma); in an element; after the `]`. */
  let state = 'start' as 'start' | 'first' | 'next' | 'element' | 'end';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = [];
  let size = 0;
  let record = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    /** Where the element under way begins in this chunk. */
    let from = state === 'element' ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) inString = false;
        } else if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if ((c === 0x7d || c === 0x5d) && depth > 0) depth--;
        else if (depth === 0 && (c === 0x2c || c === 0x5d)) {
          parts.push(chunk.subarray(from, i));
          size += i - from;
          if (size > maxRecordBytes) throw tooLarge(record);
          const text = Buffer.concat(parts, size).toString('utf8');
          parts = [];
          size = 0;
          try {
            yield JSON.parse(text);
          } catch {
            throw errors.invalidRequest(`record ${record} is not valid JSON`);
          }
          state = c === 0x2c ? 'next' : 'end';
        }
        continue;
      }
      if (isSpace(c)) continue;
      if (state === 'start') {
        if (c !== 0x5b) throw notAnArray('it does not start with [');
        state = 'first';
      } else if (state === 'first' && c === 0x5d) {
        state = 'end';
      } else if (state === 'first' || state === 'next') {
        state = 'element';
        record++;
        from = i;
        i--;
      } else {
        throw notAnArray('there is more after its closing ]');
      }
    }
    if (state === 'element') {
      parts.push(from === 0 ? chunk : chunk.subarray(from));
      size += chunk.length - from;
      if (size > maxRecordBytes) throw tooLarge(record);
    }
  }
  if (state !== 'end') throw notAnArray(state === 'start' ? 'it is empty' : 'it ends before its closing ]');
}

/** The records of a body, parsed one by one as they arrive: JSONL, or a JSON array. */
export function recordsFromBody(body: Readable, contentType: string): AsyncIterable<unknown> {
  return /json(l|-?lines)|ndjson/.test(contentType) ? jsonLines(body) : jsonArrayElements(body);
}
