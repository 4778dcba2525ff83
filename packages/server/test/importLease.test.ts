import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { openPglite } from '../src/db/pglite.ts';
import { systemClock } from '../src/clock.ts';
import type { Queryable } from '../src/db/db.ts';
import type { Refinery } from '../src/refinery.ts';
import { availableBackends, tempDir } from './support/backends.ts';
import { eventually, makeHarness, openHarness, references, type Harness } from './support/harness.ts';
import { startServe, type ServeProcess } from './support/serveProcess.ts';

// A results import belongs, under a short import lease that it renews, to the process running it.
// Killed (SIGKILL, a real OS process), the import is resumed once the lease lapses; alive, however
// slow, it is never taken from it.

const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
const adminKey = 'test-admin-key-0123456789';

/** A robot, `n` new records, a request for them and its one batch leased through `via`, with an annotation for each record uploaded. */
async function batchWithResults(h: Harness, via: Harness, n: number) {
  const robot = await h.createRobot({ max_batch_size: n });
  const recordIds = await h.importRecords(references(n));
  const created = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const lease = await via.robotCall(robot, 'POST', `/v1/batches/lease?limit=${n}`);
  assert.equal(lease.status, 200, JSON.stringify(lease.body));
  assert.equal(lease.body.item_count, n);
  const results = recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { score: 0.5 } })).join('\n');
  assert.equal((await fetch(lease.body.results_url, { method: 'PUT', body: results })).status, 200);
  const post = () => via.robotCall(robot, 'POST', `/v1/batches/${lease.body.id}/results`, { lease_token: lease.body.lease_token });
  return { robot, recordIds, requestId: created.body.id as string, batch: lease.body as { id: string; lease_token: string }, post };
}

/** Ends `serve` with SIGKILL, as a crash would, and waits for it to be gone. */
async function kill(serve: ServeProcess): Promise<void> {
  const gone = new Promise((resolve) => serve.child.once('exit', resolve));
  serve.child.kill('SIGKILL');
  await gone;
}

/** Enhancements per record: how many records have none, one, or more. */
async function enhancementsPerRecord(db: Queryable, recordIds: string[]) {
  const { rows } = await db.query<{ none: number; one: number; more: number }>(
    `select count(*) filter (where n = 0)::int as none, count(*) filter (where n = 1)::int as one, count(*) filter (where n > 1)::int as more
     from (select r.id, (select count(*) from enhancements e where e.record_id = r.id) as n from unnest($1::uuid[]) as r(id)) x`,
    [recordIds],
  );
  return rows[0];
}

describe('an import whose process is killed', () => {
  it('PostgreSQL: another process leaves a slow import alone while it renews its lease, and resumes it within the lease once its process is killed', { skip: postgres ? false : 'PostgreSQL does not answer (never skipped in CI)' }, async () => {
    const opened = await openHarness(postgres!);
    const locker = new pg.Client({ connectionString: opened.harness.databaseUrl! });
    try {
      const h = opened.harness;
      // Process A, a real `refinery serve` on the same database and blob directory, with a 1 s import lease.
      const processA = await startServe('A', { DATABASE_URL: h.databaseUrl!, REFINERY_DATA_DIR: h.dataDir, REFINERY_ADMIN_KEY: adminKey, REFINERY_IMPORT_LEASE: '1', LOG_LEVEL: 'warn' });
      const a = makeHarness({ ...h, refinery: undefined as unknown as Refinery, clock: systemClock, url: processA.url });
      const { recordIds, requestId, batch, post } = await batchWithResults(h, a, 200);

      // The import A starts waits on a lock held here: it is slow, not dead.
      await locker.connect();
      await locker.query('begin');
      await locker.query('lock table enhancements in share mode');
      assert.equal((await post()).status, 202);
      await eventually(async () => {
        const { rows } = await locker.query(`select 1 from pg_locks where relation = 'enhancements'::regclass and not granted`);
        return rows.length > 0 ? true : undefined;
      }, 15_000, "A's import to wait on the lock");

      // Three leases and more: A renews, so this process's sweeps leave the import to it.
      const slowUntil = Date.now() + 3_500;
      while (Date.now() < slowUntil) {
        assert.equal((await h.refinery.maintenance.runOnce()).importResumption, 0, 'a slow import that renews its lease was taken from its process');
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal((await h.api('GET', `/v1/requests/${requestId}`)).body.counts.importing, 200);

      await kill(processA);
      await locker.query('rollback');
      // Its lease lapses 1 s after A's last renewal; the default sweep runs every second.
      await eventually(async () => ((await h.refinery.maintenance.runOnce()).importResumption > 0 ? true : undefined), 10_000, 'the import to be resumed');
      await h.refinery.background.drain();

      const request = (await h.api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'completed');
      assert.equal(request.counts.completed, 200);
      assert.deepEqual(await enhancementsPerRecord(h.refinery.ctx.db, recordIds), { none: 0, one: 200, more: 0 });
      const done = await h.api('GET', `/v1/requests/${requestId}/batches`);
      assert.equal(done.body.data.find((b: { id: string }) => b.id === batch.id).status, 'completed');
    } finally {
      await locker.end().catch(() => {});
      await opened.close();
    }
  });

  it('PGlite: killed mid-import and restarted on its data directory, the process resumes the import within the lease', async () => {
    const dir = await tempDir();
    try {
      const env = { REFINERY_DATA_DIR: dir.path, REFINERY_ADMIN_KEY: adminKey, REFINERY_IMPORT_LEASE: '2', LOG_LEVEL: 'warn' };
      const first = await startServe('embedded', env);
      const h = makeHarness({ backend: 'pglite', refinery: undefined as unknown as Refinery, adminKey, clock: systemClock, databaseUrl: null, dataDir: dir.path, url: first.url });
      const n = 3_000;
      const { recordIds, requestId, batch, post } = await batchWithResults(h, h, n);
      assert.equal((await post()).status, 202);
      await kill(first);

      // The kill came while the batch was importing (its import starts before the answer).
      const pgdata = join(dir.path, 'pgdata');
      let db = await openPglite(pgdata);
      try {
        const { rows } = await db.query<{ status: string }>('select status from batches where id = $1::uuid', [batch.id]);
        assert.equal(rows[0].status, 'importing', 'the kill came before the import finished');
      } finally {
        await db.close();
      }

      const restarted = await startServe('embedded, restarted', env);
      try {
        const again = makeHarness({ ...h, url: restarted.url });
        const request = await eventually(async () => {
          const r = (await again.api('GET', `/v1/requests/${requestId}`)).body;
          return r.status === 'processing' ? undefined : r;
        }, 30_000, 'the resumed import to finish the request');
        assert.equal(request.status, 'completed');
        assert.equal(request.counts.completed, n);
      } finally {
        await restarted.stop();
      }
      db = await openPglite(pgdata);
      try {
        assert.deepEqual(await enhancementsPerRecord(db, recordIds), { none: 0, one: n, more: 0 });
      } finally {
        await db.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
