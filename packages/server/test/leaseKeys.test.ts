import assert from 'node:assert/strict';
import { it } from 'node:test';
import { retryBackoff } from '../src/batches/backoff.ts';
import { blobKeys } from '../src/blobs/store.ts';
import { describeEachBackend, eventually, references } from './support/harness.ts';

const minute = 60_000;

// A lease call repeated with its Idempotency-Key, its answer lost: the same batch again while its
// lease is live, never a second attempt (docs/internals/0021-lost-lease-answers.md).
describeEachBackend(
  'lease idempotency keys',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);
    const lease = (robot: { id: string; secret: string }, key: string, query = '') =>
      h().robotCall(robot, 'POST', `/v1/batches/lease${query}`, undefined, { headers: { 'idempotency-key': key } });
    const request = async (robotId: string, recordIds: string[]) => {
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robotId, record_ids: recordIds } });
      assert.equal(created.status, 202);
      return created.body.id as string;
    };
    const attempts = async (requestId: string) => (await h().api('GET', `/v1/requests/${requestId}/items`)).body.data.map((i: { attempts: number }) => i.attempts);
    const itemsFile = async (batch: { items_url: string }) => (await (await fetch(batch.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l).record.id);

    it('a lease repeated with its key gets the same batch, its items file whole, and counts no new attempt', async () => {
      const robot = await h().createRobot({ lease: 'PT1M', max_attempts: 1 });
      const recordIds = await h().importRecords(references(3));
      const requestId = await request(robot.id, recordIds);
      const first = await lease(robot, 'lease-1');
      assert.equal(first.status, 200);
      assert.equal(first.body.item_count, 3);

      const again = await lease(robot, 'lease-1');
      assert.equal(again.status, 200);
      assert.deepEqual(
        [again.body.id, again.body.lease_token, again.body.attempt, again.body.item_count, again.body.lease_expires_at],
        [first.body.id, first.body.lease_token, 1, 3, first.body.lease_expires_at],
      );
      assert.deepEqual(await attempts(requestId), [1, 1, 1]);
      assert.deepEqual((await itemsFile(again.body)).sort(), [...recordIds].sort());
      // Handed in under the repeat's answer, it completes.
      const results = recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { score: 1 } })).join('\n') + '\n';
      assert.equal((await fetch(again.body.results_url, { method: 'PUT', body: results })).status, 200);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${again.body.id}/results`, { lease_token: again.body.lease_token })).status, 202);
      await eventually(async () => ((await h().api('GET', `/v1/requests/${requestId}`)).body.status === 'completed' ? true : undefined), 10_000, 'the request to complete');
      assert.deepEqual(await attempts(requestId), [1, 1, 1]);
    });

    it('the repeat writes the items file again when the process that leased died before writing it', async () => {
      const robot = await h().createRobot({ lease: 'PT1M' });
      const recordIds = await h().importRecords(references(2));
      await request(robot.id, recordIds);
      const first = await lease(robot, 'lease-lost');
      assert.equal(first.status, 200);
      await h().refinery.ctx.blobs.deleteMany([blobKeys.items(first.body.id)]);
      assert.equal((await fetch(first.body.items_url)).status, 404);
      const again = await lease(robot, 'lease-lost');
      assert.equal(again.body.id, first.body.id);
      assert.deepEqual((await itemsFile(again.body)).sort(), [...recordIds].sort());
    });

    it('a repeat after the batch was handed in, or after its lease lapsed, leases anew', async () => {
      const robot = await h().createRobot({ lease: 'PT1M', max_attempts: 3 });
      const [a, b] = await h().importRecords(references(2));
      await request(robot.id, [a]);
      const first = await lease(robot, 'lease-done');
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${first.body.id}/results`, { lease_token: first.body.lease_token, error: { message: 'gave up' } })).status, 202);
      // Nothing else pending: no batch, and above all not the one handed in.
      assert.equal((await lease(robot, 'lease-done')).status, 204);
      await request(robot.id, [b]);
      const fresh = await lease(robot, 'lease-done');
      assert.equal(fresh.status, 200);
      assert.notEqual(fresh.body.id, first.body.id);

      // Lapsed: its items come back through the sweeper, and the same key takes them in a new batch.
      advance(minute + 1000);
      await h().refinery.maintenance.runOnce();
      advance(retryBackoff.capMs + 1000);
      const retried = await lease(robot, 'lease-done');
      assert.equal(retried.status, 200);
      assert.notEqual(retried.body.id, fresh.body.id);
      assert.equal(retried.body.attempt, 2);
      assert.equal((await lease(robot, 'lease-done')).body.id, retried.body.id);
    });

    it('two calls with one key at once lease one batch between them', async () => {
      const robot = await h().createRobot({ lease: 'PT1M' });
      const requestId = await request(robot.id, await h().importRecords(references(4)));
      const [a, b] = await Promise.all([lease(robot, 'both', '?limit=2'), lease(robot, 'both', '?limit=2')]);
      assert.deepEqual([a.status, b.status], [200, 200]);
      assert.equal(a.body.id, b.body.id);
      assert.deepEqual((await attempts(requestId)).sort(), [0, 0, 1, 1]);
    });

    it("another robot's key names none of its batches", async () => {
      const robot = await h().createRobot({ lease: 'PT1M' });
      const other = await h().createRobot({ lease: 'PT1M' });
      await request(robot.id, await h().importRecords(references(1)));
      const first = await lease(robot, 'shared-key');
      assert.equal(first.status, 200);
      assert.equal((await lease(other, 'shared-key')).status, 204);
      await request(other.id, await h().importRecords(references(1)));
      const own = await lease(other, 'shared-key');
      assert.equal(own.status, 200);
      assert.notEqual(own.body.id, first.body.id);
      assert.equal((await lease(robot, 'shared-key')).body.id, first.body.id);
    });

    it('a batch handed to a waiting long poll is found again under its key', async () => {
      const robot = await h().createRobot({ lease: 'PT1M' });
      const recordIds = await h().importRecords(references(2));
      const waiting = lease(robot, 'long-poll', '?wait=PT20S');
      await eventually(async () => (h().refinery.ctx.work.waiting(robot.id) > 0 ? true : undefined), 10_000, 'the long poll');
      const requestId = await request(robot.id, recordIds);
      const handed = await waiting;
      assert.equal(handed.status, 200);
      const again = await lease(robot, 'long-poll', '?wait=PT20S');
      assert.deepEqual([again.status, again.body.id, again.body.lease_token], [200, handed.body.id, handed.body.lease_token]);
      assert.deepEqual(await attempts(requestId), [1, 1]);
    });

    it('an empty or overlong key is refused with 400 and leases nothing', async () => {
      const robot = await h().createRobot({ lease: 'PT1M' });
      const requestId = await request(robot.id, await h().importRecords(references(1)));
      for (const key of ['', 'k'.repeat(201)]) {
        const res = await lease(robot, key);
        assert.equal(res.status, 400);
        assert.equal(typeof res.body.error.code, 'string');
      }
      assert.deepEqual(await attempts(requestId), [0]);
    });
  },
  { manualClock: true },
);
