import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startBatchImportIfLeased } from '../src/batches/queries/startBatchImport.ts';
import { describeEachBackend, references } from './support/harness.ts';
import { advance, createRequest, enhancementCount, finishedEvents, itemsOf, leaseRecords, reportOf, uploadAnnotations } from './support/lifecycle.ts';

const minute = 60_000;

// Deadlines: a request's `expires_at` (or `ttl`). At the deadline its unfinished items become
// `expired`, late results are refused, the request becomes `expired` once; finished items keep
// their enhancements. The sweeper does it; the lease query and the results fence guard it
// before the sweeper has run.
describeEachBackend(
  'deadlines',
  (h) => {
    it('at the deadline unfinished items expire, late results get 409, the request is expired once; finished work stays', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(3));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids, ttl: 'PT10M' });
      const created = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(new Date(created.expires_at).getTime(), h().clock.now().getTime() + 10 * minute);

      // One item completes before the deadline.
      const first = (await leaseRecords(h(), robot, 1))!;
      await uploadAnnotations(first);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${first.id}/results`, { lease_token: first.lease_token })).status, 202);
      await h().refinery.background.drain();
      // One is leased (results uploaded but not posted yet), one still pending.
      const second = (await leaseRecords(h(), robot, 1))!;
      await uploadAnnotations(second);

      advance(h(), 10 * minute + 1000);
      // Past the deadline, before any sweep: nothing more is handed out, results are refused.
      assert.equal(await leaseRecords(h(), robot, 10), null);
      const late = await h().robotCall(robot, 'POST', `/v1/batches/${second.id}/results`, { lease_token: second.lease_token });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'request_expired');

      await h().refinery.maintenance.runOnce();
      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'expired');
      assert.ok(request.finished_at);
      assert.deepEqual([request.counts.completed, request.counts.expired, request.counts.pending + request.counts.leased + request.counts.importing], [1, 2, 0]);

      const items = new Map((await itemsOf(h(), requestId)).map((i) => [i.record_id, i]));
      assert.equal(items.get(first.recordIds[0])!.status, 'completed');
      for (const id of ids.filter((id) => id !== first.recordIds[0])) {
        assert.equal(items.get(id)!.status, 'expired');
        assert.equal(items.get(id)!.error?.code, 'request_expired');
        assert.match(items.get(id)!.error!.message, /deadline .* passed before this item finished/);
      }
      assert.equal(await enhancementCount(h(), first.recordIds[0]), 1, 'the finished item keeps its enhancement');
      assert.equal(await enhancementCount(h(), second.recordIds[0]), 0);

      const events = await finishedEvents(h(), requestId);
      assert.equal(events.length, 1, 'one request.finished event');
      assert.equal(events[0].payload.status, 'expired');
      assert.equal(events[0].payload.counts.expired, 2);

      // Still refused after the sweep; the manifest tells every item's fate.
      const afterSweep = await h().robotCall(robot, 'POST', `/v1/batches/${second.id}/results`, { lease_token: second.lease_token });
      assert.equal(afterSweep.status, 409);
      assert.equal(afterSweep.body.error.code, 'request_expired');
      const manifestUrl = (await h().api('GET', `/v1/requests/${requestId}`)).body.manifest_url;
      assert.ok(manifestUrl);
      const manifest = (await (await fetch(manifestUrl)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(manifest.map((m) => m.status).sort(), ['completed', 'expired', 'expired']);
    });

    it('a batch mixing an expired request with an open one imports the open one and reports the expired items', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(4));
      const expiring = await createRequest(h(), { robot_id: robot.id, record_ids: ids.slice(0, 2), expires_at: new Date(h().clock.now().getTime() + 5 * minute).toISOString() });
      const lasting = await createRequest(h(), { robot_id: robot.id, record_ids: ids.slice(2) });
      const batch = (await leaseRecords(h(), robot, 10))!;
      assert.equal(batch.item_count, 4);
      await uploadAnnotations(batch);
      advance(h(), 5 * minute + 1000);
      await h().refinery.maintenance.runOnce();

      const posted = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(posted.status, 202);
      await h().refinery.background.drain();
      assert.equal((await h().api('GET', `/v1/requests/${lasting}`)).body.status, 'completed');
      assert.equal((await h().api('GET', `/v1/requests/${expiring}`)).body.status, 'expired');
      for (const id of ids.slice(0, 2)) assert.equal(await enhancementCount(h(), id), 0);
      for (const id of ids.slice(2)) assert.equal(await enhancementCount(h(), id), 1);
      const report = await reportOf(h(), lasting, batch.id);
      for (const id of ids.slice(0, 2)) {
        const line = report.find((l) => l.record_id === id)!;
        assert.equal(line.outcome, 'rejected');
        assert.match(line.message!, /not imported: this item was expired .*deadline/);
      }
      assert.deepEqual(report.filter((l) => ids.slice(2).includes(l.record_id!)).map((l) => l.outcome), ['imported', 'imported']);
    });

    it('results for a batch mixing a request past its deadline with an open one, before the sweeper ran: the first expires then, the open one imports', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(4));
      const expiring = await createRequest(h(), { robot_id: robot.id, record_ids: ids.slice(0, 2), expires_at: new Date(h().clock.now().getTime() + 5 * minute).toISOString() });
      const lasting = await createRequest(h(), { robot_id: robot.id, record_ids: ids.slice(2) });
      const batch = (await leaseRecords(h(), robot, 10))!;
      assert.equal(batch.item_count, 4);
      await uploadAnnotations(batch);
      advance(h(), 5 * minute + 1000);

      const posted = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(posted.status, 202);
      await h().refinery.background.drain();
      assert.equal((await h().api('GET', `/v1/requests/${lasting}`)).body.status, 'completed');
      const expired = (await h().api('GET', `/v1/requests/${expiring}`)).body;
      assert.equal(expired.status, 'expired');
      assert.deepEqual([expired.counts.expired, expired.counts.importing, expired.counts.completed], [2, 0, 0]);
      assert.ok((await itemsOf(h(), expiring)).every((i) => i.status === 'expired' && i.error?.code === 'request_expired'));
      for (const id of ids.slice(0, 2)) assert.equal(await enhancementCount(h(), id), 0);
      for (const id of ids.slice(2)) assert.equal(await enhancementCount(h(), id), 1);
      assert.equal((await finishedEvents(h(), expiring)).length, 1);
    });

    it('items importing at the deadline expire too; the import, resumed, imports nothing for them', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(2));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids, ttl: 'PT2M' });
      const batch = (await leaseRecords(h(), robot, 2))!;
      await uploadAnnotations(batch);
      // Results were accepted (items importing) but the import has not run: as after a crash, its
      // import lease (longer than the request's time left) still running at the deadline.
      const ctx = h().refinery.ctx;
      assert.ok(await startBatchImportIfLeased(ctx.db, { id: batch.id, robotId: robot.id, leaseToken: batch.lease_token, importLeaseMs: 5 * minute, now: ctx.clock.now() }));

      advance(h(), 2 * minute + 1000);
      await h().refinery.maintenance.runOnce();
      const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
      assert.equal(request.status, 'expired');
      assert.equal(request.counts.expired, 2);

      advance(h(), 3 * minute);
      assert.equal((await h().refinery.maintenance.runOnce()).importResumption, 1);
      await h().refinery.background.drain();
      for (const id of ids) assert.equal(await enhancementCount(h(), id), 0);
      assert.ok((await itemsOf(h(), requestId)).every((i) => i.status === 'expired' && i.error?.code === 'request_expired'));
      const report = await reportOf(h(), requestId, batch.id);
      assert.ok(report.every((l) => l.outcome === 'rejected' && /not imported: this item was expired/.test(l.message!)));
      assert.equal((await finishedEvents(h(), requestId)).length, 1);
    });

    it('a request past its deadline is not leased even before the sweeper runs; an open request is', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(2));
      const expiring = await createRequest(h(), { robot_id: robot.id, record_ids: [ids[0]], priority: 'critical', ttl: '60' });
      await createRequest(h(), { robot_id: robot.id, record_ids: [ids[1]], priority: 'low' });
      advance(h(), minute);
      const batch = await leaseRecords(h(), robot, 10);
      assert.deepEqual(batch?.recordIds, [ids[1]]);
      assert.equal((await itemsOf(h(), expiring))[0].status, 'pending', 'the sweeper has not run yet');
      await h().refinery.maintenance.runOnce();
      assert.equal((await itemsOf(h(), expiring))[0].status, 'expired');
    });

    it('ttl and expires_at together are 422 ttl_and_expires_at; a malformed ttl is 400, a zero ttl 422', async () => {
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(1));
      const both = await h().api('POST', '/v1/requests', {
        body: { robot_id: robot.id, record_ids: ids, ttl: 'PT1H', expires_at: new Date(h().clock.now().getTime() + 3600_000).toISOString() },
      });
      assert.equal(both.status, 422);
      assert.equal(both.body.error.code, 'ttl_and_expires_at');
      const malformed = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids, ttl: 'an hour' } });
      assert.equal(malformed.status, 400);
      const zero = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids, ttl: 'PT0S' } });
      assert.equal(zero.status, 422);
      assert.equal(zero.body.error.code, 'invalid_ttl');
    });
  },
  { manualClock: true },
);
