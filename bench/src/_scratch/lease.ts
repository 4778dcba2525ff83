import pino from 'pino';
import pg from 'pg';
import { openPostgres, migrate } from '@refinery/server';
import { leaseItems } from '../../../packages/server/src/batches/queries/leaseItems.ts';
const a = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' }); await a.connect();
await a.query('drop database if exists leasetest with (force)'); await a.query('create database leasetest'); await a.end();
const db = await openPostgres({ connectionString: 'postgres://postgres@127.0.0.1:5432/leasetest', log: pino({ level: 'silent' }) });
await migrate(db, pino({ level: 'silent' }) as any);
const robot = '00000000-0000-0000-0000-000000000001';
await db.query(`insert into robots (id,name,accepts,produces,max_batch_size,lease_ms,max_attempts,created_at,updated_at) values ('${robot}','r','{reference}','[]',1000,60000,3,now(),now())`);
await db.query(`insert into requests (id,robot_id,requested_by,priority,status,created_at) values ('00000000-0000-0000-0000-000000000002','${robot}','00000000-0000-0000-0000-000000000003',1,'received',now())`);
await db.query(`insert into items (request_id,record_id,robot_id,priority,status,available_at,updated_at) select '00000000-0000-0000-0000-000000000002', gen_random_uuid(), '${robot}', 1, 'pending', now(), now() from generate_series(1,100000)`);
await db.query('analyze');
for (let k = 0; k < Number(process.argv[2] ?? 30); k++) {
  const s = performance.now();
  const id = crypto.randomUUID();
  await leaseItems(db, { robotId: robot, limit: 1000, batchId: id, leaseToken: 'x', leaseMs: 60000, itemsKey: 'a', resultsKey: 'b', now: new Date() });
  if (k % 10 === 0) console.log('lease', k, (performance.now() - s).toFixed(1), 'ms');
}
const db2 = await openPostgres({ connectionString: 'postgres://postgres@127.0.0.1:5432/leasetest', log: pino({ level: 'silent' }) });
await db2.transaction(async (tx) => {
  await tx.query("load 'auto_explain'");
  await tx.query("set local auto_explain.log_min_duration = 0");
  await tx.query("set local auto_explain.log_analyze = on");
  await tx.query("set local auto_explain.log_nested_statements = on");
  await tx.query("set local auto_explain.log_buffers = on");
  await leaseItems(tx, { robotId: robot, limit: 1000, batchId: crypto.randomUUID(), leaseToken: 'x', leaseMs: 60000, itemsKey: 'a', resultsKey: 'b', now: new Date() });
});
await db2.close();
await db.close();
