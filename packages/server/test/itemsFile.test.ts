import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, eventually, references } from './support/harness.ts';

// The items file a robot downloads: the first page comes back with the lease statement, the rest
// is read page by page after it (batches/leaseBatch.ts).
describeEachBackend('items file', (h) => {
  async function leaseItemsFile(robot: { id: string; secret: string }, recordIds: string[]) {
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(created.status, 202);
    const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(leased.status, 200);
    const text = await (await fetch(leased.body.items_url)).text();
    return { batch: leased.body, request: created.body, lines: text.trim().split('\n').map((l) => JSON.parse(l)) };
  }

  it('holds every record of a batch larger than one page once, in the order they were requested', async () => {
    const robot = await h().createRobot({ max_batch_size: 2500 });
    const recordIds = await h().importRecords(references(2500));
    const { batch, lines } = await leaseItemsFile(robot, recordIds);
    assert.equal(batch.item_count, 2500);
    assert.deepEqual(
      lines.map((l) => l.record.id),
      recordIds,
    );
    assert.ok(lines.every((l, i) => l.record.type === 'reference' && l.record.content.title === `Reference ${i}` && l.record.enhancements.length === 0));
  });

  it("carries the enhancements of the types the robot needs, and only those", async () => {
    const annotator = await h().createRobot({ produces: [{ type: 'annotation' }, { type: 'note' }] });
    const recordIds = await h().importRecords(references(3));
    const first = await leaseItemsFile(annotator, recordIds.slice(0, 2));
    const results = first.lines.flatMap((l) => [
      { record_id: l.record.id, type: 'annotation', content: { of: l.record.content.title } },
      { record_id: l.record.id, type: 'note', content: { text: 'not needed' } },
    ]);
    const put = await fetch(first.batch.results_url, { method: 'PUT', body: results.map((r) => JSON.stringify(r)).join('\n') + '\n' });
    assert.equal(put.status, 200);
    assert.equal((await h().robotCall(annotator, 'POST', `/v1/batches/${first.batch.id}/results`, { lease_token: first.batch.lease_token })).status, 202);
    await eventually(async () => ((await h().api('GET', `/v1/requests/${first.request.id}`)).body.status === 'completed' ? true : undefined));

    const reader = await h().createRobot({ needs: ['annotation'] });
    const { lines } = await leaseItemsFile(reader, recordIds);
    const byRecord = new Map(lines.map((l) => [l.record.id, l.record.enhancements]));
    for (const id of recordIds.slice(0, 2)) {
      const enhancements = byRecord.get(id);
      assert.equal(enhancements.length, 1);
      assert.equal(enhancements[0].type, 'annotation');
      assert.equal(enhancements[0].robot_id, annotator.id);
      assert.equal(enhancements[0].content.of.startsWith('Reference '), true);
    }
    assert.deepEqual(byRecord.get(recordIds[2]), []);
  });
});
