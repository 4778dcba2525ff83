import assert from 'node:assert/strict';
import { it } from 'node:test';
import { newId } from '../src/ids.ts';
import { writePendingManifests } from '../src/requests/manifests.ts';
import { countingStatements, describeEachBackend, references, type Harness } from './support/harness.ts';
import { createRequest, leaseRecords, uploadAnnotations } from './support/lifecycle.ts';

type ManifestLine = { record_id: string; status: string; enhancement_ids: string[]; error?: { code: string; message: string } };

async function manifestOf(h: Harness, requestId: string): Promise<{ key: string; lines: ManifestLine[] }> {
  const res = await h.api('GET', `/v1/requests/${requestId}`);
  assert.equal(res.status, 200);
  assert.ok(res.body.manifest_url, `request ${requestId} has a manifest`);
  const text = await (await fetch(res.body.manifest_url)).text();
  const { rows } = await h.refinery.ctx.db.query<{ manifest_key: string }>(`select manifest_key from requests where id = $1::uuid`, [requestId]);
  return { key: rows[0].manifest_key, lines: text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

// Each finished request gets a manifest: one line per item, in the order its record ids were sent.
// Requests finished together are written together: their lines read a page across them at a time.
describeEachBackend('manifests', (h) => {
  it('writes one manifest per request finished together, each with its own items in order, and writes them again after a writer died', async () => {
    const robot = await h().createRobot();
    const records = await h().importRecords(references(13));
    const missing = newId();
    const sent = [records.slice(0, 4).reverse(), records.slice(4, 5), [...records.slice(5, 13), missing]];
    const requestIds: string[] = [];
    for (const ids of sent) requestIds.push(await createRequest(h(), { robot_id: robot.id, record_ids: ids }));

    const batch = await leaseRecords(h(), robot, 100);
    assert.ok(batch);
    assert.equal(batch.item_count, 13, 'one batch holds the three requests');
    await uploadAnnotations(batch);
    assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
    await h().refinery.background.drain();

    const written = [];
    for (const [i, requestId] of requestIds.entries()) {
      const manifest = await manifestOf(h(), requestId);
      written.push(manifest);
      assert.deepEqual(
        manifest.lines.map((l) => l.record_id),
        sent[i],
        `request ${i}'s manifest lists its records in the order sent`,
      );
      for (const line of manifest.lines) {
        if (line.record_id === missing) {
          assert.equal(line.status, 'denied');
          assert.equal(line.error?.code, 'record_not_found');
        } else {
          assert.equal(line.status, 'completed');
          assert.equal(line.enhancement_ids.length, 1);
        }
      }
    }
    assert.equal(new Set(written.map((m) => m.key)).size, 3, 'a file each');

    // A writer that died after the requests finished: the next writes every manifest left, reading
    // all their lines in one statement, and records every key in one more.
    const forget = () => h().refinery.ctx.db.query(`update requests set manifest_key = null where id = any($1::uuid[])`, [requestIds]);
    await forget();
    const { statements } = await countingStatements(h(), () => writePendingManifests(h().refinery.ctx, requestIds));
    assert.equal(statements, 3, 'a claim, the lines of all three requests, their keys');
    for (const [i, requestId] of requestIds.entries()) assert.deepEqual(await manifestOf(h(), requestId), written[i]);

    // Pages of two lines: pages end inside a request, at its end, and span a request of one line.
    await forget();
    assert.equal(await writePendingManifests(h().refinery.ctx, requestIds, { pageSize: 2 }), 3);
    for (const [i, requestId] of requestIds.entries()) assert.deepEqual(await manifestOf(h(), requestId), written[i]);
  });
});
