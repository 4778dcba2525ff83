import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ProvisionedRobot, RobotIn } from '@refinery/protocol';
import { retryBackoff } from '../src/batches/backoff.ts';
import { leaseItems } from '../src/batches/queries/leaseItems.ts';
import type { Queryable } from '../src/db/db.ts';
import { newId } from '../src/ids.ts';
import { describeEachBackend, references } from './support/harness.ts';

const minute = 60_000;

// Leases on a clock the tests move: renewal, the sweeper giving lapsed work back (with backoff)
// or failing it, and the lease token fencing late or repeated results.
describeEachBackend(
  'leases',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);

    interface Leased {
      robot: ProvisionedRobot;
      requestId: string;
      recordIds: string[];
      batch: { id: string; lease_token: string; lease_expires_at: string; attempt: number; items_url: string; results_url: string };
    }

    /** A robot (1-minute leases), `n` records, a request for them and the batch leased for them. */
    async function leased(n = 2, robotInput: Partial<RobotIn> = {}): Promise<Leased> {
      const robot = await h().createRobot({ lease: 'PT1M', ...robotInput });
      const recordIds = await h().importRecords(references(n));
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202);
      const lease = await h().robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(lease.status, 200);
      assert.equal(lease.body.item_count, n);
      return { robot, requestId: created.body.id, recordIds, batch: lease.body };
    }

    /** Uploads an annotation for every record of the batch. */
    async function upload(l: Leased): Promise<void> {
      const items = (await (await fetch(l.batch.items_url)).text()).trim().split('\n').map((line) => JSON.parse(line));
      const results = items.map((i) => JSON.stringify({ record_id: i.record.id, type: 'annotation', content: { score: 0.5 } })).join('\n') + '\n';
      const put = await fetch(l.batch.results_url, { method: 'PUT', body: results });
      assert.equal(put.status, 200);
    }

    const postResults = (l: Leased, body: unknown) => h().robotCall(l.robot, 'POST', `/v1/batches/${l.batch.id}/results`, body);

    async function items(l: Leased): Promise<Array<{ record_id: string; status: string; attempts: number; error: { code: string; message: string } | null }>> {
      const res = await h().api('GET', `/v1/requests/${l.requestId}/items`);
      assert.equal(res.status, 200);
      return res.body.data;
    }

    const request = async (l: Leased) => (await h().api('GET', `/v1/requests/${l.requestId}`)).body;
    const batchStatus = async (l: Leased) => (await h().robotCall(l.robot, 'GET', `/v1/batches/${l.batch.id}`)).body.status;
    const enhancementCount = async (recordId: string) => (await h().api('GET', `/v1/records/${recordId}`)).body.enhancements.length;

    it("a lease commits without waiting for the disk, and only the lease: the next transaction's commits are durable again", async () => {
      const robot = await h().createRobot();
      const recordIds = await h().importRecords(references(1));
      assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
      const db = h().refinery.ctx.db;
      const setting = async (q: Queryable) => (await q.query<{ synchronous_commit: string }>('show synchronous_commit')).rows[0].synchronous_commit;
      let inLease = '';
      // Rolled back, so that no batch is left for the sweeps of the tests after this one.
      const rolledBack = db.transaction(async (tx) => {
        const batch = await leaseItems(tx, { robotId: robot.id, limit: 10, batchId: newId(), leaseToken: 't', leaseMs: minute, itemsKey: 'i', resultsKey: 'r', needs: [], now: h().clock.now() });
        assert.equal(batch?.item_count, 1);
        inLease = await setting(tx);
        throw new Error('roll back');
      });
      await assert.rejects(rolledBack, /roll back/);
      assert.equal(inLease, 'off');
      assert.equal(await db.transaction(setting), 'on');
    });

    it('renew extends the lease, and a renewed lease outlives its first expiry through a sweep', async () => {
      const l = await leased();
      const first = new Date(l.batch.lease_expires_at).getTime();
      assert.equal(first, h().clock.now().getTime() + minute);

      advance(40_000);
      const renewed = await h().robotCall(l.robot, 'POST', `/v1/batches/${l.batch.id}/renew?lease=PT2M`);
      assert.equal(renewed.status, 200);
      assert.equal(renewed.body.id, l.batch.id);
      assert.equal(new Date(renewed.body.lease_expires_at).getTime(), h().clock.now().getTime() + 2 * minute);

      advance(30_000); // past the first expiry, inside the renewed lease
      assert.equal((await h().refinery.maintenance.runOnce()).leaseExpiry, 0);
      assert.equal(await batchStatus(l), 'leased');
      assert.ok((await items(l)).every((i) => i.status === 'leased'));

      await upload(l);
      const posted = await postResults(l, { lease_token: l.batch.lease_token });
      assert.equal(posted.status, 202);
      await h().refinery.background.drain();
      assert.equal((await request(l)).status, 'completed');
      assert.equal(await enhancementCount(l.recordIds[0]), 1);
    });

    it('renew after the lease expired is 409, before and after the sweep', async () => {
      const l = await leased();
      advance(minute + 1000);
      const late = await h().robotCall(l.robot, 'POST', `/v1/batches/${l.batch.id}/renew`);
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'lease_expired');
      assert.match(late.body.error.message, /lease expired/);

      await h().refinery.maintenance.runOnce();
      const afterSweep = await h().robotCall(l.robot, 'POST', `/v1/batches/${l.batch.id}/renew`);
      assert.equal(afterSweep.status, 409);
      assert.equal(afterSweep.body.error.code, 'lease_expired');
    });

    it('a lapsed lease gives its items back to pending with attempt+1, leasable again only after the backoff', async () => {
      const l = await leased(2, { max_attempts: 3 });
      advance(minute + 1000);
      assert.equal((await h().refinery.maintenance.runOnce()).leaseExpiry, 1);

      assert.equal(await batchStatus(l), 'expired');
      for (const item of await items(l)) {
        assert.equal(item.status, 'pending');
        assert.equal(item.attempts, 1);
        assert.equal(item.error?.code, 'lease_expired');
        assert.match(item.error!.message, /lease expired.*attempt 1 of 3; will retry/);
      }
      assert.equal((await request(l)).status, 'processing');

      // The shortest first backoff is half the base; until then nothing is leasable.
      assert.equal((await h().robotCall(l.robot, 'POST', '/v1/batches/lease')).status, 204);
      advance(retryBackoff.baseMs / 2 - 500);
      assert.equal((await h().robotCall(l.robot, 'POST', '/v1/batches/lease')).status, 204);

      advance(retryBackoff.capMs);
      const again = await h().robotCall(l.robot, 'POST', '/v1/batches/lease');
      assert.equal(again.status, 200);
      assert.equal(again.body.attempt, 2);
      assert.equal(again.body.item_count, 2);
      assert.notEqual(again.body.id, l.batch.id);
      assert.ok((await items(l)).every((i) => i.status === 'leased' && i.attempts === 2));
    });

    it('past max_attempts lapsed leases fail the items with lease_expired and finish the request', async () => {
      const l = await leased(2, { max_attempts: 2 });
      advance(minute + 1000);
      await h().refinery.maintenance.runOnce();
      advance(retryBackoff.capMs + 1000);
      const second = await h().robotCall(l.robot, 'POST', '/v1/batches/lease');
      assert.equal(second.status, 200);
      assert.equal(second.body.attempt, 2);

      advance(minute + 1000);
      assert.equal((await h().refinery.maintenance.runOnce()).leaseExpiry, 1);
      for (const item of await items(l)) {
        assert.equal(item.status, 'failed');
        assert.equal(item.attempts, 2);
        assert.equal(item.error?.code, 'lease_expired');
        assert.match(item.error!.message, /lease expired.*attempt 2 of 2\)$/);
      }
      const finished = await request(l);
      assert.equal(finished.status, 'failed');
      assert.equal(finished.counts.failed, 2);
      assert.ok(finished.finished_at);

      // Nothing is left to lease.
      advance(retryBackoff.capMs + 1000);
      assert.equal((await h().robotCall(l.robot, 'POST', '/v1/batches/lease')).status, 204);
    });

    it('results posted after the lease expired are 409 lease_expired and import nothing', async () => {
      const l = await leased();
      await upload(l);
      advance(minute + 1000);

      const late = await postResults(l, { lease_token: l.batch.lease_token });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'lease_expired');
      assert.match(late.body.error.message, /nothing was imported/);

      await h().refinery.maintenance.runOnce();
      const afterSweep = await postResults(l, { lease_token: l.batch.lease_token });
      assert.equal(afterSweep.status, 409);
      assert.equal(afterSweep.body.error.code, 'lease_expired');

      await h().refinery.background.drain();
      for (const id of l.recordIds) assert.equal(await enhancementCount(id), 0);
      assert.ok((await items(l)).every((i) => i.status === 'pending' && i.error?.code === 'lease_expired'));
      assert.equal(await batchStatus(l), 'expired');
    });

    it('results posted twice with the lease token (the first answer lost): the second is answered 202 again and imports nothing more', async () => {
      const l = await leased();
      await upload(l);
      assert.equal((await postResults(l, { lease_token: l.batch.lease_token })).status, 202);
      const again = await postResults(l, { lease_token: l.batch.lease_token });
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.equal(again.body.id, l.batch.id);
      assert.ok(['importing', 'completed'].includes(again.body.status), again.body.status);

      await h().refinery.background.drain();
      const afterImport = await postResults(l, { lease_token: l.batch.lease_token });
      assert.deepEqual([afterImport.status, afterImport.body], [202, { id: l.batch.id, status: 'completed' }]);
      // Not the same hand-in: an error after results, or another token.
      const error = await postResults(l, { lease_token: l.batch.lease_token, error: { message: 'giving up', retryable: false } });
      assert.equal(error.status, 409);
      assert.equal(error.body.error.code, 'results_already_posted');
      assert.equal((await postResults(l, { lease_token: 'not-the-token' })).status, 409);
      await h().refinery.background.drain();

      for (const id of l.recordIds) assert.equal(await enhancementCount(id), 1);
      const batches = await h().api('GET', `/v1/requests/${l.requestId}/batches`);
      const report = (await (await fetch(batches.body.data[0].report_url)).text()).trim().split('\n');
      assert.equal(report.length, 2);
      assert.equal((await request(l)).status, 'completed');
    });

    it('a wrong lease token is 409 and imports nothing; the holder of the lease still can', async () => {
      const l = await leased();
      await upload(l);
      const wrong = await postResults(l, { lease_token: 'not-the-token' });
      assert.equal(wrong.status, 409);
      assert.equal(wrong.body.error.code, 'lease_token_mismatch');
      const wrongError = await postResults(l, { lease_token: 'not-the-token', error: { message: 'giving up', retryable: false } });
      assert.equal(wrongError.status, 409);
      assert.equal(wrongError.body.error.code, 'lease_token_mismatch');

      await h().refinery.background.drain();
      assert.equal(await batchStatus(l), 'leased');
      assert.ok((await items(l)).every((i) => i.status === 'leased' && i.error === null));
      for (const id of l.recordIds) assert.equal(await enhancementCount(id), 0);

      assert.equal((await postResults(l, { lease_token: l.batch.lease_token })).status, 202);
      await h().refinery.background.drain();
      assert.equal((await request(l)).status, 'completed');
    });

    it("a batch-wide robot error that is not retryable fails the items with the robot's message", async () => {
      const l = await leased(2, { max_attempts: 3 });
      const posted = await postResults(l, { lease_token: l.batch.lease_token, error: { message: 'the upstream classifier is gone', retryable: false } });
      assert.equal(posted.status, 202);
      assert.equal(posted.body.status, 'failed');

      for (const item of await items(l)) {
        assert.equal(item.status, 'failed');
        assert.equal(item.error?.code, 'robot_error');
        assert.match(item.error!.message, /the upstream classifier is gone/);
      }
      assert.equal((await request(l)).status, 'failed');
      assert.equal(await batchStatus(l), 'failed');
      // The batch is handed in: the same error again is answered as the first was, results after it are refused.
      const repeated = await postResults(l, { lease_token: l.batch.lease_token, error: { message: 'the upstream classifier is gone', retryable: false } });
      assert.deepEqual([repeated.status, repeated.body], [202, { id: l.batch.id, status: 'failed' }]);
      const after = await postResults(l, { lease_token: l.batch.lease_token });
      assert.equal(after.status, 409);
      assert.equal(after.body.error.code, 'results_already_posted');
      assert.ok((await items(l)).every((i) => i.status === 'failed' && i.attempts === 1));
    });

    it('a batch-wide robot error that is retryable sends the items back to pending', async () => {
      const l = await leased(2, { max_attempts: 3 });
      const posted = await postResults(l, { lease_token: l.batch.lease_token, error: { message: 'rate limited upstream', retryable: true } });
      assert.equal(posted.status, 202);

      for (const item of await items(l)) {
        assert.equal(item.status, 'pending');
        assert.equal(item.attempts, 1);
        assert.equal(item.error?.code, 'robot_error');
        assert.match(item.error!.message, /rate limited upstream.*will retry/);
      }
      assert.equal((await request(l)).status, 'processing');
      assert.equal((await h().robotCall(l.robot, 'POST', '/v1/batches/lease')).status, 204);
      advance(retryBackoff.capMs + 1000);
      const again = await h().robotCall(l.robot, 'POST', '/v1/batches/lease');
      assert.equal(again.status, 200);
      assert.equal(again.body.attempt, 2);
    });
  },
  { manualClock: true },
);
