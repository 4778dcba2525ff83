import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import pino from 'pino';
import { flushWal } from '../src/db/tuning.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { eventually, describeEachBackend } from './support/harness.ts';
import { session } from './support/session.ts';

describeEachBackend('database', (h) => {
  it('keeps a prepared statement parsed on its connection, and plans every call of it for its own values', async (t) => {
    const { db } = h().refinery.ctx;
    if (db.kind !== 'postgres') return t.skip('PGlite keeps no statements');
    const sql = `select count(*)::int as n from items where robot_id = $1::uuid -- ${randomUUID()}`;
    await db.transaction(async (tx) => {
      for (let i = 0; i < 8; i++) assert.deepEqual((await tx.query(sql, [randomUUID()], { prepared: true })).rows, [{ n: 0 }]);
      // A generic plan (one plan for any values, kept as the tables grow) is never made.
      const { rows } = await tx.query(`select generic_plans::int, custom_plans::int from pg_prepared_statements where statement = $1::text`, [sql]);
      assert.deepEqual(rows, [{ generic_plans: 0, custom_plans: 8 }]);
    });
  });

  it('plans a lookup once, as index lookups that stay right when the table it was planned on grows from one row to 2,000', async (t) => {
    const { databaseUrl } = h();
    if (!databaseUrl) return t.skip('PGlite keeps no statements');
    const table = `lookup_probe_${randomUUID().slice(0, 8)}`;
    const scans = async () => (await h().refinery.ctx.db.query<{ seq: number; idx: number }>(`select seq_scan::int as seq, coalesce(idx_scan, 0)::int as idx from pg_stat_user_tables where relname = $1::text`, [table])).rows[0];
    // Made by a session that then ends, so that its scans (building the index) are counted before the lookups.
    const maker = await session(databaseUrl);
    await maker.client.query(`create table ${table} (id int primary key, label text not null); insert into ${table} values (1, 'one'); analyze ${table}`);
    await maker.client.end();
    const before = await eventually(scans);
    const db = await openPostgres({ connectionString: databaseUrl, log: pino({ level: 'silent' }) });
    try {
      const lookup = `select label from ${table} where id = $1::int`;
      // Planned on each of the four lookup connections while the table holds one row, and its statistics say so: a sequential scan would be cheapest.
      const planned = await Promise.all(Array.from({ length: 4 }, () => db.query(lookup, [1], { lookup: true })));
      assert.ok(planned.every((r) => r.rows[0].label === 'one'));
      await db.exec(`insert into ${table} select n, 'row ' || n from generate_series(2, 2000) n`);
      for (let id = 2; id <= 2000; id += 100) assert.deepEqual((await db.query(lookup, [id], { lookup: true })).rows, [{ label: `row ${id}` }]);
    } finally {
      await db.close(); // its sessions end, and their statistics are written
    }
    const counted = await eventually(async () => {
      const s = await scans();
      return s.seq + s.idx >= before.seq + before.idx + 24 ? s : undefined;
    }, 15_000, 'the lookups counted in the statistics');
    assert.equal(counted.seq, before.seq, 'no lookup scanned the whole table');
  });

  it('runs a lookup on the other connections, planned for its values, when every lookup connection is busy', async (t) => {
    const { databaseUrl } = h();
    if (!databaseUrl) return t.skip('PGlite keeps no statements');
    const db = await openPostgres({ connectionString: databaseUrl, log: pino({ level: 'silent' }) });
    try {
      const sql = `select pg_backend_pid() as pid, current_setting('plan_cache_mode') as plans from pg_sleep(0.2)`;
      const ran = (await Promise.all(Array.from({ length: 12 }, () => db.query<{ pid: number; plans: string }>(sql, [], { lookup: true })))).map((r) => r.rows[0]);
      assert.equal(new Set(ran.map((r) => r.pid)).size, 12, 'none waited for a busy connection');
      assert.equal(ran.filter((r) => r.plans === 'force_generic_plan').length, 4);
      assert.equal(ran.filter((r) => r.plans === 'force_custom_plan').length, 8);
    } finally {
      await db.close();
    }
  });

  it('puts on disk, with flushWal, what another session committed without waiting for the flush', async (t) => {
    const { databaseUrl } = h();
    if (!databaseUrl) return t.skip('PGlite has no WAL positions to compare across sessions');
    const other = await session(databaseUrl);
    try {
      await other.client.query(`create table if not exists flush_probe (id uuid primary key)`);
      await other.client.query('begin');
      await other.client.query(`set local synchronous_commit = off`);
      await other.client.query(`insert into flush_probe values ($1::uuid)`, [randomUUID()]);
      await other.client.query('commit');
      // The end of its commit record, or a little past it.
      const { rows } = await other.client.query(`select pg_current_wal_insert_lsn()::text as lsn`);
      await flushWal(h().refinery.ctx.db);
      const flushed = await other.client.query(`select pg_current_wal_flush_lsn() >= $1::pg_lsn as on_disk`, [rows[0].lsn]);
      assert.equal(flushed.rows[0].on_disk, true);
    } finally {
      await other.client.end();
    }
  });
});
