import pg from 'pg';
import { insertRequestWithItems } from '../../packages/server/src/requests/queries/insertRequestWithItems.ts';
const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${process.argv[2]}` });
await client.connect();
const robot = (await client.query(`select id::text from robots limit 1`)).rows[0].id;
const recs = (await client.query(`select id::text from records order by id`)).rows.map((r: any) => r.id);
const buf = Buffer.concat(recs.map((id: string) => Buffer.from(id.replaceAll('-', ''), 'hex')));
let captured: any = null;
const fake = { query: async (sql: string, params: unknown[]) => { captured = { sql, params }; return { rows: [] }; } } as any;
await insertRequestWithItems(fake, { id: '01a236ad-9748-7912-a54c-b7852de36aa0', robotId: robot, requestedBy: '01a236ad-9748-7912-a54c-b7852de36aa1', priority: 2, expiresAt: null, callbackUrl: null, idempotencyKey: null, bodyHash: 'x', recordIds: buf, now: new Date(), handoff: null });
const { sql, params } = captured;
await client.query('set work_mem = \'64MB\'');
for (let i = 0; i < 2; i++) {
  await client.query('begin');
  const r = await client.query(`explain (analyze, buffers, wal) ${sql}`, params);
  await client.query('rollback');
  if (i === 1) console.log(r.rows.map((x: any) => x['QUERY PLAN']).join('\n'));
}
await client.end();
