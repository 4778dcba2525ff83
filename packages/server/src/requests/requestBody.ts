import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { maxRecordsPerRequest, type RequestIn, uuidPattern } from '@refinery/protocol';
import { AppError, errors } from '../errors.ts';
import { refuseUnstorable } from '../http/index.ts';

const require = createRequire(import.meta.url);
// stream-json is CommonJS.
const { parser: jsonParser } = require('stream-json') as typeof import('stream-json');
const Assembler = require('stream-json/Assembler.js') as typeof import('stream-json/Assembler.js');

/**
 * A request's record ids as they arrived, packed 16 bytes each: a million ids take 16 MB instead
 * of a 37 MB body string plus an array of a million strings, and go to the database as one
 * `bytea` parameter.
 */
export class RecordIdList {
  private buffer: Buffer = Buffer.allocUnsafe(16 * 1024);
  private hashed: string | null = null;
  length = 0;

  /** A list of the ids already packed in `packed` (16 bytes each). */
  static fromPacked(packed: Uint8Array): RecordIdList {
    const list = new RecordIdList();
    list.buffer = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
    list.length = packed.byteLength / 16;
    return list;
  }

  push(id: string): void {
    if (this.buffer.length < (this.length + 1) * 16) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, 16 * 1024));
      this.buffer.copy(grown, 0, 0, this.length * 16);
      this.buffer = grown;
    }
    this.buffer.write(id.replaceAll('-', ''), this.length * 16, 16, 'hex');
    this.length++;
  }

  /** The ids, 16 bytes each, in the order sent. */
  get packed(): Buffer {
    return this.buffer.subarray(0, this.length * 16);
  }

  /** SHA-256 of the ids in order (for the idempotency check), once the last is pushed. */
  digest(): string {
    return (this.hashed ??= createHash('sha256').update(this.packed).digest('hex'));
  }
}

/** A parsed `POST /v1/requests` body: RequestIn with its ids packed. */
export type RequestBodyIn = Omit<RequestIn, 'record_ids'> & { record_ids?: RecordIdList };

/** A request of record ids (createRequest). */
export type RequestBody = Omit<RequestIn, 'record_ids' | 'query' | 'filter' | 'dry_run'> & { record_ids: RecordIdList };

const invalid = (path: string, what: string) => errors.invalidRequest(`body${path} ${what}`);

/**
 * Parses a `POST /v1/requests` body as it streams in (stream-json tokens): `record_ids` (or the
 * field `idsField`: DESTINY's `reference_ids`) is checked and packed id by id, every other field
 * assembled as usual and left to the route's schema. Over `limit` bytes is 413.
 */
export function parseRequestBody(body: Readable, limit: number, contentLength?: string, idsField = 'record_ids'): Promise<Record<string, unknown>> {
  if (Number(contentLength) > limit) return Promise.reject(errors.payloadTooLarge(`the body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const parser = jsonParser({ packKeys: true, packStrings: true, packNumbers: true, streamKeys: false, streamStrings: false, streamNumbers: false });
    // No prototype: a "__proto__" field is then an unknown field like any other.
    const result: Record<string, unknown> = Object.create(null);
    /** Where the parser is: before the body's object, inside it, or past its end. */
    let place: 'before' | 'inside' | 'after' = 'before';
    let key: string | null = null;
    let ids: RecordIdList | null = null;
    let value: InstanceType<typeof Assembler> | null = null;
    let bytes = 0;
    let failed = false;

    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      body.unpipe(parser);
      parser.destroy();
      body.resume(); // drain what the client still sends, so it reads the answer
      reject(err instanceof AppError || (err as { validation?: unknown }).validation ? err : errors.invalidRequest(`body is not valid JSON: ${(err as Error).message}`));
    };

    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) fail(errors.payloadTooLarge(`the body is larger than ${limit} bytes`));
    });
    body.on('error', fail);
    parser.on('error', fail);
    parser.on('data', (token: { name: string; value?: string }) => {
      if (failed) return;
      try {
        if (value) {
          value.consume(token);
          if (value.done) {
            refuseUnstorable(value.current, undefined, `body.${key}`);
            result[key!] = value.current;
            value = null;
          }
          return;
        }
        if (ids) {
          if (token.name === 'endArray') {
            if (ids.length === 0) throw invalid(`.${idsField}`, 'must NOT have fewer than 1 items');
            result[idsField] = ids;
            ids = null;
          } else if (token.name === 'stringValue' && uuidPattern.test(token.value!)) {
            if (ids.length === maxRecordsPerRequest) throw invalid(`.${idsField}`, `must NOT have more than ${maxRecordsPerRequest} items`);
            ids.push(token.value!);
          } else {
            throw invalid(`.${idsField}.${ids.length}`, token.name === 'stringValue' ? 'must match format "uuid"' : 'must be string');
          }
          return;
        }
        if (place !== 'inside') {
          if (token.name !== 'startObject' || place === 'after') throw errors.invalidRequest('body must be a JSON object');
          place = 'inside';
        } else if (token.name === 'endObject') {
          place = 'after';
        } else if (token.name === 'keyValue') {
          key = token.value!;
          if (Object.hasOwn(result, key)) throw invalid('', `has the field "${key}" twice`);
        } else if (key === idsField && token.name === 'startArray') {
          ids = new RecordIdList();
        } else if (key === idsField) {
          throw invalid(`.${idsField}`, 'must be array');
        } else {
          value = new Assembler();
          value.consume(token);
          if (value.done) {
            refuseUnstorable(value.current, undefined, `body.${key}`);
            result[key!] = value.current;
            value = null;
          }
        }
      } catch (err) {
        fail(err);
      }
    });
    parser.on('end', () => {
      if (failed) return;
      if (place === 'before') fail(errors.invalidRequest('body must be a JSON object'));
      else resolve(result);
    });
    body.pipe(parser);
  });
}
