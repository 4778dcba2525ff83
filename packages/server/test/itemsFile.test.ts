import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileBlobRoot } from '../src/blobs/fileStore.ts';
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

  it("keeps a batch's files side by side, named for the batch, in a folder shared with the batches leased about the same minute", async () => {
    const robot = await h().createRobot({ max_batch_size: 1 });
    const recordIds = await h().importRecords(references(5));
    const batches: Array<{ id: string; lease_token: string; results_url: string }> = [];
    for (const recordId of recordIds) {
      const { batch } = await leaseItemsFile(robot, [recordId]);
      batches.push(batch);
      const put = await fetch(batch.results_url, { method: 'PUT', body: `${JSON.stringify({ record_id: recordId, type: 'annotation', content: { n: 1 } })}\n` });
      assert.equal(put.status, 200);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
    }
    const root = join(fileBlobRoot(h().dataDir), 'batches');
    const filesOf = async (batch: { id: string }) =>
      // A UUIDv7 begins with its time: its first 8 hex digits change every 65.5 s.
      (await readdir(join(root, batch.id.slice(0, 8)))).filter((f) => f.startsWith(batch.id)).sort();
    await eventually(async () => ((await Promise.all(batches.map(filesOf))).every((files) => files.length === 3) ? true : undefined), 15_000, 'the reports');
    for (const batch of batches) assert.deepEqual(await filesOf(batch), ['items', 'report', 'results'].map((f) => `${batch.id}.${f}.jsonl`));
    // Five batches in a few seconds: one folder, two if they straddle a boundary; not one each.
    assert.ok((await readdir(root)).length <= 2);
  });
});
