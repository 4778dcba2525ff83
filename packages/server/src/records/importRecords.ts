import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import split2 from 'split2';
import { RecordIn } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { AppError, errors } from '../errors.ts';
import { strictAjv } from '../http/validation.ts';
import { newId } from '../ids.ts';
import { raiseWorkMem } from '../db/raiseWorkMem.ts';
import { holdImportLock } from './queries/holdImportLock.ts';
import { createRecordsStaging, stagedRecordColumns, stagedRecordTargetsJson, upsertStagedRecords } from './queries/upsertStagedRecords.ts';

const require = createRequire(import.meta.url);
// stream-json is CommonJS.
const { parser: jsonParser } = require('stream-json') as typeof import('stream-json');
const { streamArray } = require('stream-json/streamers/StreamArray.js') as typeof import('stream-json/streamers/StreamArray.js');

/** Longest JSONL line, and most records in one call. */
export const maxRecordLineBytes = 1024 * 1024;
export const maxRecordsPerImport = 1_000_000;
/** From this many records on, an import gets more memory and the planner statistics of what it staged. */
const largeImportFrom = 10_000;

const validateRecord = strictAjv().compile(RecordIn);

/** Parsed values from a JSONL body, one per non-blank line. */
async function* jsonLines(body: Readable): AsyncIterable<unknown> {
  let line = 0;
  const lines = body.pipe(split2({ maxLength: maxRecordLineBytes }));
  body.on('error', (err) => lines.destroy(err));
  try {
    for await (const text of lines as AsyncIterable<string>) {
      line++;
      // split2's maxLength only bounds an unfinished line; a whole line in one chunk passes it.
      if (Buffer.byteLength(text) > maxRecordLineBytes) throw errors.payloadTooLarge(`line ${line} is longer than ${maxRecordLineBytes} bytes`);
      if (text.trim() === '') continue;
      try {
        yield JSON.parse(text);
      } catch {
        throw errors.invalidRequest(`line ${line} is not valid JSON`);
      }
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (/maxLength|maximum buffer/i.test(String((err as Error).message))) throw errors.payloadTooLarge(`line ${line + 1} is longer than ${maxRecordLineBytes} bytes`);
    throw err;
  }
}

/** Values of a JSON array body, streamed. */
async function* jsonArrayItems(body: Readable): AsyncIterable<unknown> {
  const parser = jsonParser();
  const items = body.pipe(parser).pipe(streamArray());
  body.on('error', (err) => items.destroy(err));
  // pipe() does not pass errors on: without this, malformed JSON left the import waiting forever.
  parser.on('error', (err) => items.destroy(err));
  try {
    for await (const { value } of items as AsyncIterable<{ value: unknown }>) yield value;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw errors.invalidRequest(`body is not a JSON array of records: ${(err as Error).message}`);
  }
}

export function recordsFromBody(body: Readable, contentType: string): AsyncIterable<unknown> {
  return /json(l|-?lines)|ndjson/.test(contentType) ? jsonLines(body) : jsonArrayItems(body);
}

/**
 * Upserts records by identifier, all or nothing: they stream into a staging table (COPY on
 * PostgreSQL) inside one transaction and are merged set-based; an invalid record rolls all back.
 * `json` is the answer (ImportRecordsResult) as JSON text in pieces, the ids a page per piece.
 */
export async function importRecords(ctx: Context, values: AsyncIterable<unknown>): Promise<{ created: number; updated: number; json: string[] }> {
  const now = ctx.clock.now();
  const imported = await ctx.db.transaction(async (tx) => {
    await holdImportLock(tx);
    await createRecordsStaging(tx);
    let ord = 0;
    const rows = (async function* () {
      for await (const value of values) {
        ord++;
        if (ord > maxRecordsPerImport) throw errors.payloadTooLarge(`at most ${maxRecordsPerImport} records in one call`);
        if (!validateRecord(value)) {
          const e = validateRecord.errors?.[0];
          const where = `record ${ord}${e?.instancePath ? ` ${e.instancePath.slice(1).replaceAll('/', '.')}` : ''}`;
          const what = e?.keyword === 'additionalProperties' ? `has an unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"` : (e?.message ?? 'is invalid');
          throw errors.invalidRequest(`${where} ${what}`, { record: ord });
        }
        const r = value as RecordIn;
        // content as JSON text: COPY would write a JSON string value bare, which is not JSON.
        let content: string | null;
        try {
          content = r.content === undefined ? null : JSON.stringify(r.content);
        } catch {
          throw errors.invalidRequest(`record ${ord} content is nested too deeply`, { record: ord });
        }
        yield [ord, newId(), r.type, r.identifiers, content, r.visibility ?? null, r.expires_at ?? null] as const;
      }
    })();
    await tx.copyRows('records_in', stagedRecordColumns, rows);
    if (ord === 0) throw errors.invalidRequest('send at least one record');
    const large = ord >= largeImportFrom;
    if (large) await raiseWorkMem(tx);
    const counts = await upsertStagedRecords(tx, { now, analyze: large });
    const json = [`{"created":${counts.created},"updated":${counts.updated},"ids":[`];
    for await (const page of stagedRecordTargetsJson(tx)) json.push(json.length === 1 ? page : ',' + page);
    json.push(']}');
    return { ...counts, json };
  });
  ctx.metrics.recordsImported.inc({ outcome: 'created' }, imported.created);
  ctx.metrics.recordsImported.inc({ outcome: 'updated' }, imported.updated);
  return imported;
}
