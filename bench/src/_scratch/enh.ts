import pino from 'pino';
import pg from 'pg';
import { openPostgres, migrate } from '@refinery/server';
import { insertEnhancements } from '../../../packages/server/src/batches/queries/insertEnhancements.ts';
import { contentHash } from '@refinery/protocol';
const a = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' }); await a.connect();
await a.query('drop database if exists enhtest with (force)'); await a.query('create database enhtest'); await a.end();
const url = 'postgres://postgres@127.0.0.1:5432/enhtest';
const db = await openPostgres({ connectionString: url, log: pino({ level: 'silent' }) });
await migrate(db, pino({ level: 'silent' }) as any);
await db.query(`insert into records (id, type, identifiers, content, created_at, updated_at) select gen_random_uuid(), 'reference', '[]', jsonb_build_object('title', 'Reference ' || g, 'year', 1990 + g % 35), now(), now() from generate_series(1, 100000) g`);
await db.query('analyze');
const ids = (await db.query<{ id: string }>('select id::text from records')).rows.map((r) => r.id);
const req = crypto.randomUUID();
const explain = process.argv[2] === 'explain';
for (let k = 0; k < 20; k++) {
  const enhancements = ids.slice(k * 1000, k * 1000 + 1000).map((id) => { const content = { score: Math.random() }; return { id: crypto.randomUUID(), record_id: id, request_id: req, type: 'annotation', content, content_hash: contentHash(content), robot_version: null, derived_from: null }; });
  const s = performance.now();
  if (explain && k === 19) {
    await db.transaction(async (tx) => {
      await tx.query("load 'auto_explain'"); await tx.query('set local auto_explain.log_min_duration = 0'); await tx.query('set local auto_explain.log_analyze = on'); await tx.query('set local auto_explain.log_nested_statements = on');
      await insertEnhancements(tx, { robotId: req, batchId: req, enhancements, now: new Date() });
    });
  } else await insertEnhancements(db, { robotId: req, batchId: req, enhancements, now: new Date() });
  if (k % 5 === 4) console.log('insert 1000', (performance.now() - s).toFixed(1), 'ms');
}
await db.close();
