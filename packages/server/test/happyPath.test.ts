import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, eventually, references } from './support/harness.ts';

// The seeds' polling happy path (DESTINY e2e test_polling_enhancements), over real HTTP.
describeEachBackend('happy path: 4 records, two batches of 2, then 204', (h) => {
  it('completes the request, puts enhancements on the records and reports 4 imported', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(4));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(created.status, 202);
    assert.equal(created.body.status, 'received');
    assert.equal(created.body.counts.pending, 4);

    const first = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=2');
    const second = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=2');
    const third = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=2');
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(first.body.item_count, 2);
    assert.equal(second.body.item_count, 2);
    assert.equal(third.status, 204);
    assert.equal((await h().api('GET', `/v1/requests/${created.body.id}`)).body.status, 'processing');

    for (const batch of [first.body, second.body]) {
      const items = await (await fetch(batch.items_url)).text();
      const lines = items.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, 2);
      const results = lines.map((l) => JSON.stringify({ record_id: l.record.id, type: 'annotation', content: { score: 0.5, of: l.record.content.title } })).join('\n') + '\n';
      const put = await fetch(batch.results_url, { method: 'PUT', body: results, headers: { 'content-type': 'application/x-ndjson' } });
      assert.equal(put.status, 200);
      const posted = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(posted.status, 202);
    }

    const done = await eventually(async () => {
      const r = await h().api('GET', `/v1/requests/${created.body.id}`);
      return r.body.status === 'processing' || r.body.status === 'received' ? undefined : r.body;
    });
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.completed, 4);
    assert.equal(done.progress, 1);

    for (const id of recordIds) {
      const record = await h().api('GET', `/v1/records/${id}`);
      assert.equal(record.body.enhancements.length, 1);
      assert.equal(record.body.enhancements[0].type, 'annotation');
      assert.equal(record.body.enhancements[0].robot_id, robot.id);
    }

    const batches = await h().api('GET', `/v1/requests/${created.body.id}/batches`);
    assert.equal(batches.body.data.length, 2);
    const outcomes: string[] = [];
    for (const b of batches.body.data) {
      const report = await (await fetch(b.report_url)).text();
      outcomes.push(...report.trim().split('\n').map((l) => JSON.parse(l).outcome));
    }
    assert.deepEqual(outcomes, ['imported', 'imported', 'imported', 'imported']);

    const manifestUrl = await eventually(async () => (await h().api('GET', `/v1/requests/${created.body.id}`)).body.manifest_url ?? undefined);
    const manifest = (await (await fetch(manifestUrl)).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(manifest.length, 4);
    assert.ok(manifest.every((m) => m.status === 'completed' && m.enhancement_ids.length === 1));
  });
});
