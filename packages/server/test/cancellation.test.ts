import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RefineryClient } from '@refinery/sdk';
import { startBatchImportIfLeased } from '../src/batches/queries/startBatchImport.ts';
import { describeEachBackend, references } from './support/harness.ts';
import { advance, createRequest, enhancementCount, finishedEvents, itemsOf, leaseRecords, reportOf, uploadAnnotations } from './support/lifecycle.ts';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

// Cancellation: POST /v1/requests/{id}/cancel closes what has not finished, at once; late results
// for cancelled items import nothing; a second call changes nothing.
describeEachBackend(
  'cancellation',
  (h) => {
    async function newKey(role: 'requester' | 'admin'): Promise<string> {
      const res = await h().api('POST', '/v1/api-keys', { body: { name: `${role}-${Math.random()}`, role } });
      assert.equal(res.status, 201);
      return res.body.key;
    }

    it('cancel closes pending and leased items at once, refuses their late results, and a second cancel changes nothing', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(3));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      const batch = (await leaseRecords(h(), robot, 2))!;
      await uploadAnnotations(batch);

      const cancelled = await h().api('POST', `/v1/requests/${requestId}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.id, requestId);
      assert.equal(cancelled.body.status, 'cancelled');
      assert.equal(cancelled.body.counts.cancelled, 3);
      assert.equal(cancelled.body.progress, 1);
      assert.ok(cancelled.body.finished_at);
      for (const item of await itemsOf(h(), requestId)) {
        assert.equal(item.status, 'cancelled');
        assert.equal(item.error?.code, 'request_cancelled');
      }

      const late = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'request_cancelled');
      assert.match(late.body.error.message, /nothing was imported/);
      await h().refinery.background.drain();
      for (const id of ids) assert.equal(await enhancementCount(h(), id), 0);
      assert.equal(await leaseRecords(h(), robot, 10), null, 'nothing left to lease');

      const again = await h().api('POST', `/v1/requests/${requestId}/cancel`);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { ...cancelled.body, manifest_url: again.body.manifest_url });
      const events = await finishedEvents(h(), requestId);
      assert.equal(events.length, 1, 'one request.finished event');
      assert.equal(events[0].payload.status, 'cancelled');
      assert.equal(events[0].payload.counts.cancelled, 3);
    });

    it('cancel keeps what completed: the items a completed batch carried stay completed, with their enhancement, in the list and the manifest', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(3));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      const batch = (await leaseRecords(h(), robot, 2))!;
      await uploadAnnotations(batch);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
      await h().refinery.background.drain();

      const cancelled = await h().api('POST', `/v1/requests/${requestId}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.deepEqual([cancelled.body.status, cancelled.body.counts.completed, cancelled.body.counts.cancelled], ['cancelled', 2, 1]);
      const items = await itemsOf(h(), requestId);
      assert.deepEqual(items.map((i) => i.status).sort(), ['cancelled', 'completed', 'completed']);
      await h().refinery.background.drain();
      const manifestUrl = (await h().api('GET', `/v1/requests/${requestId}`)).body.manifest_url;
      const manifest = (await (await fetch(manifestUrl)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(manifest.map((l) => [l.status, l.enhancement_ids.length]).sort(), [['cancelled', 0], ['completed', 1], ['completed', 1]]);
    });

    it("in a batch mixing two requests, cancelling one still imports the other's items; the report says why the rest was not imported", async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(4));
      const cancelledId = await createRequest(h(), { robot_id: robot.id, record_ids: ids.slice(0, 2) });
      const keptId = await createRequest(h(), { robot_id: robot.id, record_ids: ids.slice(2) });
      const batch = (await leaseRecords(h(), robot, 10))!;
      assert.equal(batch.item_count, 4);
      await uploadAnnotations(batch);
      assert.equal((await h().api('POST', `/v1/requests/${cancelledId}/cancel`)).status, 200);

      const posted = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(posted.status, 202);
      await h().refinery.background.drain();
      const kept = (await h().api('GET', `/v1/requests/${keptId}`)).body;
      assert.equal(kept.status, 'completed');
      assert.equal(kept.counts.completed, 2);
      assert.equal((await h().api('GET', `/v1/requests/${cancelledId}`)).body.status, 'cancelled');
      for (const id of ids.slice(0, 2)) assert.equal(await enhancementCount(h(), id), 0);
      for (const id of ids.slice(2)) assert.equal(await enhancementCount(h(), id), 1);
      const report = await reportOf(h(), keptId, batch.id);
      assert.equal(report.length, 4);
      for (const id of ids.slice(0, 2)) {
        const line = report.find((l) => l.record_id === id)!;
        assert.equal(line.outcome, 'rejected');
        assert.match(line.message!, /not imported: this item was cancelled \(the request was cancelled/);
      }
    });

    it('items importing but not yet settled are cancelled too; the import, resumed, imports nothing for them and says why', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(2));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      const batch = (await leaseRecords(h(), robot, 2))!;
      await uploadAnnotations(batch);
      // Results were accepted (items importing) but the import has not run: as after a crash.
      const ctx = h().refinery.ctx;
      assert.ok(await startBatchImportIfLeased(ctx.db, { id: batch.id, robotId: robot.id, leaseToken: batch.lease_token, importLeaseMs: ctx.config.importLeaseMs, now: ctx.clock.now() }));
      assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.counts.importing, 2);

      const cancelled = await h().api('POST', `/v1/requests/${requestId}/cancel`);
      assert.equal(cancelled.body.status, 'cancelled');
      assert.equal(cancelled.body.counts.cancelled, 2);

      advance(h(), h().refinery.ctx.config.importLeaseMs + 1000);
      assert.equal((await h().refinery.maintenance.runOnce()).importResumption, 1);
      await h().refinery.background.drain();
      for (const id of ids) assert.equal(await enhancementCount(h(), id), 0);
      assert.ok((await itemsOf(h(), requestId)).every((i) => i.status === 'cancelled'));
      const report = await reportOf(h(), requestId, batch.id);
      assert.deepEqual(report.map((l) => l.outcome), ['rejected', 'rejected']);
      assert.ok(report.every((l) => /not imported: this item was cancelled/.test(l.message!)));
      assert.equal((await finishedEvents(h(), requestId)).length, 1);
    });

    // Another requester's cancel (404, nothing changed): hostileCallers.test.ts.
    it('the owner may cancel; a request finished otherwise is 409 already_finished', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(2));
      const owner = await newKey('requester');
      const mine = await createRequest(h(), { robot_id: robot.id, record_ids: [ids[0]] }, owner);
      assert.equal((await h().api('POST', `/v1/requests/${mine}/cancel`, { key: owner })).body.status, 'cancelled');

      const done = await createRequest(h(), { robot_id: robot.id, record_ids: [ids[1]] });
      const batch = (await leaseRecords(h(), robot, 1))!;
      await uploadAnnotations(batch);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
      await h().refinery.background.drain();
      const late = await h().api('POST', `/v1/requests/${done}/cancel`, { key: await newKey('admin') });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'already_finished');
      assert.equal((await h().api('GET', `/v1/requests/${done}`)).body.status, 'completed');
      assert.equal(await enhancementCount(h(), ids[1]), 1);
      assert.equal((await finishedEvents(h(), done)).length, 1);
    });

    it('the SDK and the CLI command cancel through the route', async () => {
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(2));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
      const cancelled = await client.cancelRequest(requestId);
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.counts.cancelled, 2);
      assert.equal((await client.cancelRequest(requestId)).status, 'cancelled');

      const other = await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      const env = { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: h().adminKey, CI: 'true' };
      const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'requests', 'cancel', other], { env });
      assert.match(out.stdout, new RegExp(`Request ${other} is cancelled`));
      assert.equal((await h().api('GET', `/v1/requests/${other}`)).body.status, 'cancelled');
    });
  },
  { manualClock: true },
);
