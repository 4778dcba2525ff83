import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileBlobRoot } from '../src/blobs/fileStore.ts';
import { describeEachBackend, eventually, references } from './support/harness.ts';

// The items file a robot downloads: the first page comes back with the lease statement, the rest
// is read page by page after it (batches/leaseBatch.ts). A one-page file is written just after
// the lease is answered (batches/routes.ts, answerWithBatch).
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

  /**
   * Makes the next put of an items file fail, as a full or broken disk would (the one fault here
   * that only a stand-in can cause); returns the key it refused, once it has.
   */
  function failNextItemsFile(): Promise<string> {
    const blobs = h().refinery.ctx.blobs;
    const put = blobs.put;
    return new Promise((refused) => {
      blobs.put = async (key, body) => {
        if (!key.endsWith('.items.jsonl')) return put.call(blobs, key, body);
        blobs.put = put;
        refused(key);
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
    });
  }

  /** A robot's items and batches as stored: what a lease that was undone must leave. */
  async function stored(requestId: string) {
    const { db } = h().refinery.ctx;
    const items = await db.query<{ status: string; attempts: number }>(`select status, attempts from shown_items where request_id = $1::uuid order by id`, [requestId]);
    const batches = await db.query<{ status: string; error_message: string | null }>(
      `select distinct b.status, b.error_message from batches b join items i on i.batch_id = b.id where i.request_id = $1::uuid`,
      [requestId],
    );
    return { items: items.rows, batches: batches.rows };
  }

  /** The next lease takes the same items, as their first attempt, with their file. */
  async function assertLeasedAgain(robot: { id: string; secret: string }, recordIds: string[]) {
    const again = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(again.status, 200);
    assert.equal(again.body.attempt, 1);
    const lines = (await (await fetch(again.body.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.record.id),
      recordIds,
    );
  }

  it('a one-page items file that cannot be written after the lease was answered gives the batch back: items pending, no attempt spent, its results refused', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(2));
    const refused = failNextItemsFile();
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    // Answered before the write: the robot holds a batch whose file is missing.
    assert.equal(leased.status, 200);
    assert.ok((await refused).includes(leased.body.id));
    await eventually(async () => ((await stored(created.body.id)).batches[0]?.status === 'expired' ? true : undefined), 10_000, 'the batch given back');
    assert.deepEqual(await stored(created.body.id), {
      items: [{ status: 'pending', attempts: 0 }, { status: 'pending', attempts: 0 }],
      batches: [{ status: 'expired', error_message: 'the items file could not be written' }],
    });
    assert.equal((await fetch(leased.body.items_url)).status, 404);
    const late = await h().robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'lease_expired');
    await assertLeasedAgain(robot, recordIds);
  });

  it('a larger items file that cannot be written fails the lease before it is answered and gives the batch back', async () => {
    const robot = await h().createRobot({ max_batch_size: 1500 });
    const recordIds = await h().importRecords(references(1500));
    const refused = failNextItemsFile();
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(leased.status, 500);
    await refused;
    const after = await stored(created.body.id);
    assert.deepEqual(after.batches, [{ status: 'expired', error_message: 'the items file could not be written' }]);
    assert.ok(after.items.every((i) => i.status === 'pending' && i.attempts === 0));
    await assertLeasedAgain(robot, recordIds);
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
