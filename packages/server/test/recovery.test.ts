import assert from 'node:assert/strict';
import { it } from 'node:test';
import { getImportContext, type ImportContext } from '../src/batches/queries/getImportContext.ts';
import { startBatchImportIfLeased } from '../src/batches/queries/startBatchImport.ts';
import type { Db } from '../src/db/db.ts';
import { autovacuumRuns } from '../src/db/vacuum.ts';
import { describeEachBackend, references } from './support/harness.ts';
import { itemsOf } from './support/lifecycle.ts';

// A process may die at any point; what it left half done is in the database, and the sweeper
// (of any process) finishes it. These tests leave work half done on purpose, then sweep.

/** Runs `work` with the first statement matching `sql` failing, as if the process died there. */
async function diesAt(db: Db, sql: RegExp, work: () => Promise<void>): Promise<void> {
  const query = db.query;
  db.query = (async (text: string, params?: readonly unknown[]) => {
    if (!sql.test(text.trim())) return query.call(db, text, params);
    db.query = query;
    throw new Error('the process died here');
  }) as Db['query'];
  try {
    await work();
  } finally {
    db.query = query;
  }
}
describeEachBackend(
  'crash recovery',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);
    /** How many `request.finished` events the request has. */
    const finishedEvents = async (requestId: string) =>
      (await h().refinery.ctx.db.query<{ n: number }>(`select count(*)::int as n from events where request_id = $1::uuid and type = 'request.finished'`, [requestId])).rows[0].n;
    /** A robot's request for `n` new records, leased as one batch, with `lines(recordIds)` uploaded as its results file. */
    const leasedWithResults = async (n: number, lines: (recordIds: string[]) => object[]) => {
      const robot = await h().createRobot();
      const recordIds = await h().importRecords(references(n));
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      const batch = (await h().robotCall(robot, 'POST', '/v1/batches/lease')).body;
      const results = lines(recordIds).map((line) => JSON.stringify(line)).join('\n');
      assert.equal((await fetch(batch.results_url, { method: 'PUT', body: results })).status, 200);
      return { robot, recordIds, requestId: created.body.id as string, batch };
    };

    it('resumes an import whose process died after answering 202, once its import lease lapses (within 30 s)', async () => {
      const { robot, recordIds, requestId, batch } = await leasedWithResults(3, (ids) => ids.map((id) => ({ record_id: id, type: 'annotation', content: { n: 1 } })));
      // What POST /results does before it answers, without the import that would follow (nor its
      // renewals): as if the process died there.
      const ctx = h().refinery.ctx;
      const leaseMs = ctx.config.importLeaseMs;
      assert.ok(await startBatchImportIfLeased(ctx.db, { id: batch.id, robotId: robot.id, leaseToken: batch.lease_token, importLeaseMs: leaseMs, now: ctx.clock.now() }));

      advance(leaseMs - 1000);
      assert.equal((await h().refinery.maintenance.runOnce()).importResumption, 0);
      assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.counts.importing, 3, 'an import within its lease is left alone');

      advance(2000);
      assert.ok(leaseMs + 1000 <= 30_000, `resumed ${leaseMs + 1000} ms after the crash`);
      const swept = await h().refinery.maintenance.runOnce();
      assert.equal(swept.importResumption, 1);
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'completed');
      assert.equal(request.counts.completed, 3);
      for (const id of recordIds) assert.equal((await h().api('GET', `/v1/records/${id}`)).body.enhancements.length, 1);
    });

    it("the fence reads the import's context in its own statement, as a resumed import reads it; not when some of the batch's items closed", async () => {
      const { robot, batch } = await leasedWithResults(3, (ids) => ids.map((id) => ({ record_id: id, type: 'annotation', content: { n: 1 } })));
      const ctx = h().refinery.ctx;
      const started = await startBatchImportIfLeased(ctx.db, { id: batch.id, robotId: robot.id, leaseToken: batch.lease_token, importLeaseMs: ctx.config.importLeaseMs, now: ctx.clock.now() });
      assert.ok(started && started !== 'overdue' && started.context);
      const byRecord = (c: ImportContext) => ({ ...c, items: [...c.items].sort((a, b) => a.record_id.localeCompare(b.record_id)) });
      assert.deepEqual(byRecord(started.context), byRecord((await getImportContext(ctx.db, { batchId: batch.id }))!));
      assert.equal(started.context.items.length, 3);
      const { importResults } = await import('../src/batches/importResults.ts');
      await importResults(ctx, batch.id, started.context);
      assert.equal((await h().robotCall(robot, 'GET', `/v1/batches/${batch.id}`)).body.status, 'completed');

      // One batch over two requests, one of them cancelled while the robot holds it.
      const other = await h().createRobot();
      const [kept, dropped] = [await h().importRecords(references(2)), await h().importRecords(references(1))];
      const keptRequest = (await h().api('POST', '/v1/requests', { body: { robot_id: other.id, record_ids: kept } })).body.id as string;
      const droppedRequest = (await h().api('POST', '/v1/requests', { body: { robot_id: other.id, record_ids: dropped } })).body.id as string;
      const shared = (await h().robotCall(other, 'POST', '/v1/batches/lease')).body;
      assert.equal(shared.item_count, 3);
      const lines = [...kept, ...dropped].map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { n: 1 } })).join('\n');
      assert.equal((await fetch(shared.results_url, { method: 'PUT', body: lines })).status, 200);
      assert.equal((await h().api('POST', `/v1/requests/${droppedRequest}/cancel`)).body.status, 'cancelled');
      const partly = await startBatchImportIfLeased(ctx.db, { id: shared.id, robotId: other.id, leaseToken: shared.lease_token, importLeaseMs: ctx.config.importLeaseMs, now: ctx.clock.now() });
      assert.ok(partly && partly !== 'overdue');
      assert.equal(partly.context, null, 'the import reads the closed items itself');
      await importResults(ctx, shared.id, partly.context);
      await h().refinery.background.drain();
      assert.equal((await h().api('GET', `/v1/requests/${keptRequest}`)).body.counts.completed, 2);
      for (const id of dropped) assert.equal((await h().api('GET', `/v1/records/${id}`)).body.enhancements.length, 0);
    });

    it('completes an import whose process died after settling its items, keeping its first report', async () => {
      const { robot, recordIds, requestId, batch } = await leasedWithResults(2, (ids) => [{ record_id: ids[0], type: 'annotation', content: { n: 3 } }, { record_id: ids[1], type: 'no-such-type', content: {} }]);
      // The process dies between the items' settle and the import's last step (the batch's completion).
      const db = h().refinery.ctx.db;
      await diesAt(db, /^\s*(with completed as \(\s*)?update batches set status = 'completed'/, async () => {
        assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
        await h().refinery.background.drain();
      });
      const halfDone = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(halfDone.status, 'processing');
      // The rejected item is settled; the imported one completes with its batch, importing until then.
      assert.deepEqual([halfDone.counts.completed, halfDone.counts.failed, halfDone.counts.importing], [0, 1, 1]);
      assert.deepEqual((await itemsOf(h(), requestId)).map((i) => i.status).sort(), ['failed', 'importing']);

      advance(h().refinery.ctx.config.importLeaseMs + 1000);
      assert.equal((await h().refinery.maintenance.runOnce()).importResumption, 1);
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'completed_with_errors');
      assert.equal(await finishedEvents(requestId), 1);
      const done = (await h().robotCall(robot, 'GET', `/v1/batches/${batch.id}`)).body;
      assert.equal(done.status, 'completed');
      const report = (await (await fetch(done.report_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(
        report.map((r) => [r.line, r.record_id, r.outcome]).sort((a, b) => a[0] - b[0]),
        [
          [1, recordIds[0], 'imported'],
          [2, recordIds[1], 'rejected'],
        ],
      );
    });

    it('finishes a request whose last batch completed in a process that died before finishing the request', async () => {
      const { robot, requestId, batch } = await leasedWithResults(2, (ids) => ids.map((id) => ({ record_id: id, type: 'annotation', content: { n: 4 } })));
      const db = h().refinery.ctx.db;
      await diesAt(db, /with finished as/, async () => {
        assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
        await h().refinery.background.drain();
      });
      assert.equal((await h().robotCall(robot, 'GET', `/v1/batches/${batch.id}`)).body.status, 'completed');
      const halfDone = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.deepEqual([halfDone.status, halfDone.counts.completed], ['processing', 2]);

      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'completed');
      assert.ok(request.manifest_url, 'its manifest is written');
      await h().refinery.maintenance.runOnce();
      assert.equal(await finishedEvents(requestId), 1);
    });

    it('imports once even when the import runs twice (a resumed import racing a slow one)', async () => {
      const { robot, recordIds, requestId, batch } = await leasedWithResults(2, (ids) => ids.map((id) => ({ record_id: id, type: 'annotation', content: { n: 2 } })));
      const { importResults } = await import('../src/batches/importResults.ts');
      const ctx = h().refinery.ctx;
      const started = await startBatchImportIfLeased(ctx.db, { id: batch.id, robotId: robot.id, leaseToken: batch.lease_token, importLeaseMs: ctx.config.importLeaseMs, now: ctx.clock.now() });
      assert.ok(started && started !== 'overdue' && started.context);
      // The import POST /results starts (with the fence's context) and one resumed by a sweeper (reading it).
      await Promise.all([importResults(ctx, batch.id, started.context), importResults(ctx, batch.id)]);
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'completed');
      assert.equal(request.counts.completed, 2);
      assert.equal(await finishedEvents(requestId), 1);
      for (const id of recordIds) assert.equal((await h().api('GET', `/v1/records/${id}`)).body.enhancements.length, 1);
    });

    it('finishes a request whose items were all denied at creation, when its process died before finishing it', async () => {
      const robot = await h().createRobot();
      const ctx = h().refinery.ctx;
      await diesAt(ctx.db, /with finished as/, async () => {
        const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ['01900000-0000-7000-8000-0000000000de'] } });
        assert.equal(created.status, 500, 'the process died before answering');
      });
      const [{ id }] = (await ctx.db.query<{ id: string }>(`select id::text from requests where robot_id = $1::uuid`, [robot.id])).rows;
      assert.equal((await h().api('GET', `/v1/requests/${id}`)).body.status, 'received');

      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${id}`)).body;
      assert.equal(request.status, 'failed');
      assert.equal(request.counts.denied, 1);
      assert.ok(request.manifest_url, 'its manifest is written');
      assert.equal(await finishedEvents(id), 1);
      await h().refinery.maintenance.runOnce();
      assert.equal(await finishedEvents(id), 1, 'once');
    });

    it('writes the manifest of a request that finished in a process that died before writing it', async () => {
      const robot = await h().createRobot();
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ['01900000-0000-7000-8000-0000000000dd'] } });
      assert.equal(created.body.status, 'failed');
      await h().refinery.background.drain();
      const ctx = h().refinery.ctx;
      // Forget the manifest, as if the process died between the final move and the write.
      await ctx.db.query(`update requests set manifest_key = null, manifest_claimed_until = null where id = $1::uuid`, [created.body.id]);
      assert.equal((await h().api('GET', `/v1/requests/${created.body.id}`)).body.manifest_url, null);
      const swept = await h().refinery.maintenance.runOnce();
      assert.ok(swept.manifests >= 1);
      const manifestUrl = (await h().api('GET', `/v1/requests/${created.body.id}`)).body.manifest_url;
      const lines = (await (await fetch(manifestUrl)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines, [
        { record_id: '01900000-0000-7000-8000-0000000000dd', status: 'denied', enhancement_ids: [], error: { code: 'record_not_found', message: 'record 01900000-0000-7000-8000-0000000000dd does not exist' } },
      ]);
    });

    it('vacuums the tables that churn where no autovacuum runs: embedded mode, or a server with autovacuum off', async () => {
      const ctx = h().refinery.ctx;
      const autovacuum = await autovacuumRuns(ctx.db);
      const lastVacuum = async () =>
        (await ctx.db.query<{ last_vacuum: Date | null }>(`select last_vacuum from pg_stat_user_tables where relname = 'items'`)).rows[0].last_vacuum;
      const before = await lastVacuum();
      assert.equal(await h().refinery.maintenance.vacuum.runOnce(), !autovacuum);
      if (autovacuum) assert.deepEqual(await lastVacuum(), before, 'autovacuum does it');
      else assert.notDeepEqual(await lastVacuum(), before);
    });
  },
  { manualClock: true },
);

describeEachBackend('operations endpoints', (h) => {
  it('answers health, readiness, metrics and the OpenAPI document, each with a request id', async () => {
    const health = await h().api('GET', '/healthz', { key: null });
    assert.equal(health.status, 200);
    assert.match(health.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal((await h().api('GET', '/readyz', { key: null })).status, 200);
    const metrics = await h().api('GET', '/metrics', { key: null });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /refinery_items\{status="pending"\}/);
    assert.match(metrics.body, /refinery_http_request_duration_seconds_bucket/);
    const openapi = await h().api('GET', '/openapi.json', { key: null });
    assert.equal(openapi.body.openapi.slice(0, 2), '3.');
    for (const path of ['/v1/records', '/v1/robots', '/v1/requests', '/v1/requests/{id}/items', '/v1/batches/lease', '/v1/batches/{id}/results']) {
      assert.ok(openapi.body.paths[path], `${path} is documented`);
    }
    assert.equal((await fetch(`${h().url}/docs`)).status, 200);
  });
});
