/**
 * Floors: what PostgreSQL itself does on this machine, with nothing of Refinery's in the way.
 * - write: COPY FROM STDIN of `rows` toy `annotation` enhancement rows (content hashed as
 *   they are made) into Refinery's own `enhancements` table (a fresh, migrated database, so
 *   its primary key, unique (record_id, type, content_hash) and the foreign key to records
 *   all apply), streamed through pg-copy-streams.
 * - read: COPY (select … from records) TO STDOUT of `rows` records as JSONL, streamed to a
 *   sink that only counts bytes and lines.
 * Rows per second for each. The records the enhancements point at are COPYed in first (untimed).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { toyAnnotation } from '../../examples/toy-robot/src/robot.ts';
import { freshPostgresDatabase } from './support.ts';

export interface FloorsResult {
  rows: number;
  /** COPY of enhancement rows into `enhancements`. */
  copyInSeconds: number;
  copyInRowsPerSecond: number;
  /** COPY TO STDOUT of records as JSONL. */
  copyOutSeconds: number;
  copyOutRowsPerSecond: number;
  copyOutBytes: number;
}

/** COPY text format: escape backslash, tab, newline, carriage return. */
const copyText = (s: string) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

export async function floors(options: { rows?: number } = {}): Promise<FloorsResult> {
  const rows = options.rows ?? 100_000;
  const database = await freshPostgresDatabase('refinery_bench_floors', { migrated: true });
  try {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // The records (untimed): ids kept for the enhancements' foreign key.
      const recordIds = Array.from({ length: rows }, () => randomUUID());
      const now = new Date().toISOString();
      await pipeline(
        Readable.from(
          (function* () {
            for (let i = 0; i < rows; i++) {
              const identifiers = JSON.stringify([{ type: 'doi', value: `10.5555/floors/${i}` }]);
              const content = JSON.stringify({ title: `Reference ${i}`, year: 1990 + (i % 35) });
              yield `${recordIds[i]}\treference\t${copyText(identifiers)}\t${copyText(content)}\t${now}\t${now}\n`;
            }
          })(),
        ),
        client.query(copyStreams.from('copy records (id, type, identifiers, content, created_at, updated_at) from stdin')),
      );
      await client.query('analyze records');

      // (a) The write floor.
      const robotId = randomUUID();
      const requestId = randomUUID();
      const batchId = randomUUID();
      let t = performance.now();
      await pipeline(
        Readable.from(
          (function* () {
            for (let i = 0; i < rows; i++) {
              const { type, content } = toyAnnotation({ id: recordIds[i], type: 'reference', identifiers: [], content: {}, enhancements: [] });
              const json = JSON.stringify(content);
              const hash = createHash('sha256').update(json).digest('hex');
              yield `${randomUUID()}\t${recordIds[i]}\t${robotId}\t${requestId}\t${batchId}\t${type}\t${copyText(json)}\t${hash}\t0.1.0\t${now}\n`;
            }
          })(),
        ),
        client.query(copyStreams.from('copy enhancements (id, record_id, robot_id, request_id, batch_id, type, content, content_hash, robot_version, created_at) from stdin')),
      );
      const copyInSeconds = (performance.now() - t) / 1000;

      // (b) The read floor: one JSON object per line, as a batch's items file carries records.
      let bytes = 0;
      let lines = 0;
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
          done();
        },
      });
      t = performance.now();
      await pipeline(
        client.query(
          copyStreams.to(
            `copy (select json_build_object('id', id, 'type', type, 'identifiers', identifiers, 'content', content) from records) to stdout`,
          ),
        ),
        sink,
      );
      const copyOutSeconds = (performance.now() - t) / 1000;
      if (lines !== rows) throw new Error(`read floor: expected ${rows} lines, got ${lines}`);
      return { rows, copyInSeconds, copyInRowsPerSecond: rows / copyInSeconds, copyOutSeconds, copyOutRowsPerSecond: rows / copyOutSeconds, copyOutBytes: bytes };
    } finally {
      await client.end();
    }
  } finally {
    await database.drop();
  }
}
