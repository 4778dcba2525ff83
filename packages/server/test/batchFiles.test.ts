import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import pino from 'pino';
import { blobKeys, type BlobStore } from '../src/blobs/store.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createRefinery } from '../src/refinery.ts';
import { createCleanup } from '../src/retention/cleanup.ts';
import { describeEachBackend, references, testMasterKey } from './support/harness.ts';
import { advance, createRequest, leaseRecords, uploadAnnotations, type LeasedBatch } from './support/lifecycle.ts';
import { startLocalS3 } from './support/s3.ts';

// The cleanup of batch files (issue 26, part 4): a batch's items, results and report are deleted
// once it and every request it carried items of ended REFINERY_BATCH_FILES_RETENTION ago (7 days
// by default), never while such a request is open; the API then says so. On both databases and
// both blob stores, the clock moved by the tests.

const minute = 60_000;
const s3 = await startLocalS3();
const s3Store = s3.store('batch-files');
after(async () => {
  s3Store.close();
  await s3.stop();
});

const fileNames = ['items', 'results', 'report'] as const;

/** Which of the batch's files the store holds. */
async function filesKept(blobs: BlobStore, batchId: string): Promise<string[]> {
  const kept = [];
  for (const file of fileNames) {
    const body = await blobs.get(blobKeys[file](batchId));
    if (body) {
      body.destroy();
      kept.push(file);
    }
  }
  return kept;
}

for (const [storeName, blobs] of [
  ['file blob store', undefined],
  ['S3 blob store', s3Store],
] as const) {
  describeEachBackend(
    `batch files cleanup, ${storeName}`,
    (h) => {
      const retention = () => h().refinery.ctx.config.batchFilesRetentionMs;
      const kept = (batchId: string) => filesKept(h().refinery.ctx.blobs, batchId);
      const batchesOf = async (requestId: string) => {
        const res = await h().api('GET', `/v1/requests/${requestId}/batches`);
        assert.equal(res.status, 200);
        return res.body.data as Array<{ id: string; status: string; report_url: string | null; files_deleted_at: string | null }>;
      };

      /** Uploads annotations for the batch and posts its results; waits for the import and the manifests. */
      async function complete(robot: { id: string; secret: string }, batch: LeasedBatch): Promise<void> {
        await uploadAnnotations(batch);
        const posted = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
        assert.equal(posted.status, 202, JSON.stringify(posted.body));
        await h().refinery.background.drain();
      }

      async function finishedRequest(n: number) {
        const robot = await h().createRobot();
        const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(n)) });
        const batch = (await leaseRecords(h(), robot, n))!;
        await complete(robot, batch);
        const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
        assert.equal(request.status, 'completed');
        return { robot, requestId, batch, request };
      }

      it('keeps a finished request’s batch files for the retention, then deletes them: the API links to none, a stale URL answers 404, the manifest stays', async () => {
        const { robot, requestId, batch } = await finishedRequest(3);
        assert.deepEqual(await kept(batch.id), ['items', 'results', 'report']);

        advance(h(), retention() - minute);
        await h().refinery.maintenance.cleanup.runOnce();
        assert.deepEqual(await kept(batch.id), ['items', 'results', 'report'], 'a minute before the retention has passed, nothing is deleted');
        const [before] = await batchesOf(requestId);
        assert.equal(before.files_deleted_at, null);
        assert.equal((await fetch(before.report_url!)).status, 200);

        advance(h(), 2 * minute);
        const pass = await h().refinery.maintenance.cleanup.runOnce();
        assert.ok(pass.batchFilesDeleted >= 1, JSON.stringify(pass));
        assert.deepEqual(await kept(batch.id), []);

        const [listed] = await batchesOf(requestId);
        assert.equal(listed.report_url, null);
        assert.equal(listed.files_deleted_at, h().clock.now().toISOString());
        const got = await h().robotCall(robot, 'GET', `/v1/batches/${batch.id}`);
        assert.equal(got.status, 200);
        assert.equal(got.body.status, 'completed');
        assert.equal(got.body.report_url, null);
        // The items URL given afresh, and the one the lease gave (still valid on S3, which signs by
        // the real clock): the file is gone, and the store says so.
        for (const url of [got.body.items_url, ...(blobs ? [batch.items_url] : [])]) {
          const stale = await fetch(url);
          assert.equal(stale.status, 404, url);
          if (!blobs) assert.deepEqual(await stale.json(), { error: { code: 'not_found', message: 'blob not found' } });
        }

        const request = (await h().api('GET', `/v1/requests/${requestId}`)).body;
        const manifest = await fetch(request.manifest_url);
        assert.equal(manifest.status, 200, 'the manifest is the request’s, and stays');
        assert.equal((await manifest.text()).trim().split('\n').length, 3);
        assert.equal((await h().refinery.maintenance.cleanup.runOnce()).batchFilesDeleted, 0, 'a second pass finds nothing left');
      });

      it('never deletes the files of a batch whose request is still open, however long ago the batch ended', async () => {
        const robot = await h().createRobot();
        const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(2)) });
        const first = (await leaseRecords(h(), robot, 1))!;
        await complete(robot, first);
        assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.status, 'processing');

        advance(h(), 3 * retention());
        await h().refinery.maintenance.cleanup.runOnce();
        assert.deepEqual(await kept(first.id), ['items', 'results', 'report']);
        const [listed] = await batchesOf(requestId);
        assert.equal(listed.files_deleted_at, null);
        assert.equal((await fetch(listed.report_url!)).status, 200);

        // Once the request finishes, its batches' retention runs from then.
        const second = (await leaseRecords(h(), robot, 1))!;
        await complete(robot, second);
        assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.status, 'completed');
        advance(h(), retention() - minute);
        await h().refinery.maintenance.cleanup.runOnce();
        assert.deepEqual(await kept(first.id), ['items', 'results', 'report']);
        advance(h(), 2 * minute);
        await h().refinery.maintenance.cleanup.runOnce();
        assert.deepEqual(await kept(first.id), []);
        assert.deepEqual(await kept(second.id), []);
        assert.deepEqual((await batchesOf(requestId)).map((b) => b.report_url), [null, null]);
      });

      it('deletes the files of a lapsed lease, results uploaded but never posted, once the retention has passed since the lease lapsed', async () => {
        const robot = await h().createRobot({ lease: 'PT1M' });
        const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(1)) });
        const lapsed = (await leaseRecords(h(), robot, 1))!;
        await uploadAnnotations(lapsed);
        advance(h(), 2 * minute);
        assert.equal((await h().refinery.maintenance.runOnce()).leaseExpiry, 1);
        advance(h(), minute);
        // The item goes on to a second attempt, which the robot holds and has not answered yet.
        const retried = (await leaseRecords(h(), robot, 1))!;
        assert.deepEqual(await kept(lapsed.id), ['items', 'results']);

        advance(h(), retention() - 2 * minute);
        await h().refinery.maintenance.cleanup.runOnce();
        assert.deepEqual(await kept(lapsed.id), ['items', 'results'], 'the lease lapsed less than the retention ago');
        advance(h(), 2 * minute);
        await h().refinery.maintenance.cleanup.runOnce();
        // No item is in the lapsed batch any more: its files go, while the request is still open.
        assert.deepEqual(await kept(lapsed.id), []);
        assert.deepEqual(await kept(retried.id), ['items'], 'the batch the item is in now is the open request’s');
        assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.status, 'processing');
        const got = await h().robotCall(robot, 'GET', `/v1/batches/${lapsed.id}`);
        assert.deepEqual({ status: got.status, batch: got.body.status }, { status: 200, batch: 'expired' });
        assert.equal((await fetch(got.body.items_url)).status, 404);
      });

      it('repeats the deletion after a process died between deleting the files and marking the batch, once its claim has lapsed', async () => {
        const { requestId, batch } = await finishedRequest(2);
        advance(h(), retention() + minute);
        const store = h().refinery.ctx.blobs;
        const deleteMany = store.deleteMany;
        store.deleteMany = async (keys) => {
          await deleteMany.call(store, keys);
          throw new Error('the process died here');
        };
        try {
          await assert.rejects(h().refinery.maintenance.cleanup.runOnce(), /the process died here/);
        } finally {
          store.deleteMany = deleteMany;
        }
        assert.deepEqual(await kept(batch.id), []);
        assert.equal((await batchesOf(requestId))[0].files_deleted_at, null, 'not marked');

        // The dead process's claim holds for 5 minutes: another process leaves the batch alone meanwhile.
        advance(h(), 4 * minute);
        await h().refinery.maintenance.cleanup.runOnce();
        assert.equal((await batchesOf(requestId))[0].files_deleted_at, null);
        advance(h(), 2 * minute);
        await h().refinery.maintenance.cleanup.runOnce();
        const [listed] = await batchesOf(requestId);
        assert.equal(listed.files_deleted_at, h().clock.now().toISOString());
        assert.equal(listed.report_url, null);
      });

      it('deletes each batch’s files once when two processes clean up at once, and all of them between the two', async () => {
        // Everything earlier is cleaned up first, so that the two passes below find only these batches.
        await h().refinery.maintenance.cleanup.runOnce();
        const batches = [];
        for (let i = 0; i < 6; i++) batches.push((await finishedRequest(1)).batch);
        advance(h(), retention() + minute);
        const second = h().databaseUrl
          ? await createRefinery({
              config: loadConfig({ port: '0', host: '127.0.0.1', dataDir: h().dataDir, databaseUrl: h().databaseUrl!, adminKey: h().adminKey, logLevel: 'silent' }, { REFINERY_MASTER_KEY: testMasterKey }),
              blobs: h().refinery.ctx.blobs,
              clock: h().clock,
              log: pino({ level: 'silent' }),
              sweep: false,
            })
          : null;
        try {
          // A batch a page, so that the two take turns.
          const cleanups = [h().refinery.ctx, (second ?? h().refinery).ctx].map((ctx) => createCleanup({ ctx, config: { batchLimit: 1 } }));
          const passes = await Promise.all(cleanups.map((c) => c.runOnce()));
          assert.equal(passes[0].batchFilesDeleted + passes[1].batchFilesDeleted, batches.length, JSON.stringify(passes));
          for (const batch of batches) assert.deepEqual(await kept(batch.id), [], batch.id);
        } finally {
          await second?.close();
        }
      });
    },
    { manualClock: true, blobs },
  );
}

it('REFINERY_BATCH_FILES_RETENTION: 7 days by default, seconds or ISO 8601, anything else refused at start', () => {
  assert.equal(loadConfig({}, {}).batchFilesRetentionMs, 7 * 24 * 3600_000);
  assert.equal(loadConfig({}, { REFINERY_BATCH_FILES_RETENTION: 'P30D' }).batchFilesRetentionMs, 30 * 24 * 3600_000);
  assert.equal(loadConfig({}, { REFINERY_BATCH_FILES_RETENTION: '3600' }).batchFilesRetentionMs, 3600_000);
  assert.equal(loadConfig({}, { REFINERY_BATCH_FILES_RETENTION: '0' }).batchFilesRetentionMs, 0);
  for (const bad of ['a week', '-1', 'P1W', '']) {
    assert.throws(
      () => loadConfig({}, { REFINERY_BATCH_FILES_RETENTION: bad }),
      (err: Error) => err instanceof ConfigError && err.message === `REFINERY_BATCH_FILES_RETENTION must be a duration (seconds or ISO 8601, such as P30D), not "${bad}"`,
    );
  }
});
