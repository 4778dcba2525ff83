import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ProvisionedRobot, RobotIn } from '@refinery/protocol';
import { retryBackoff } from '../src/batches/backoff.ts';
import { describeEachBackend, eventually, openOtherProcess, references, within, type Harness } from './support/harness.ts';

// Retries (issue 3, point 4) on a clock the tests move. After a failed attempt n an item waits
// min(cap, base · 2^(n−1)) · f, f uniform in [0.5, 1) drawn once per batch: never leasable before
// half the delay, always after the whole of it, and a batch's retried items come back together
// (issue 28). A batch-wide error or a per-record error marked `retryable` retries while attempts
// remain, then fails with the robot's last message.
describeEachBackend(
  'retries',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);
    /** The backoff after attempt n, before jitter. */
    const delayAfter = (n: number) => Math.min(retryBackoff.capMs, retryBackoff.baseMs * 2 ** (n - 1));

    async function setup(n: number, robotInput: Partial<RobotIn> = {}): Promise<{ robot: ProvisionedRobot; requestId: string; recordIds: string[] }> {
      const robot = await h().createRobot({ lease: 'PT1H', ...robotInput });
      const recordIds = await h().importRecords(references(n));
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202);
      return { robot, requestId: created.body.id, recordIds };
    }

    const lease = (robot: ProvisionedRobot) => h().robotCall(robot, 'POST', '/v1/batches/lease');
    const postResults = (robot: ProvisionedRobot, batch: { id: string; lease_token: string }, body: Record<string, unknown> = {}) =>
      h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token, ...body });
    const batchError = async (robot: ProvisionedRobot, batch: { id: string; lease_token: string }, message: string, retryable: boolean) => {
      const res = await postResults(robot, batch, { error: { message, retryable } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    };

    async function items(requestId: string): Promise<Array<{ record_id: string; status: string; attempts: number; error: { code: string; message: string } | null }>> {
      const res = await h().api('GET', `/v1/requests/${requestId}/items`);
      assert.equal(res.status, 200);
      return res.body.data;
    }
    const request = async (id: string) => (await h().api('GET', `/v1/requests/${id}`)).body;

    async function uploadResults(batch: { results_url: string }, lines: unknown[]): Promise<void> {
      const put = await fetch(batch.results_url, { method: 'PUT', body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
      assert.equal(put.status, 200);
    }

    it('the backoff doubles with each attempt up to the cap: never leasable before half the delay, always after it', async () => {
      const attempts = 10;
      const { robot, requestId } = await setup(1, { max_attempts: attempts });
      const delays: number[] = [];
      for (let n = 1; n < attempts; n++) {
        const leased = await lease(robot);
        assert.equal(leased.status, 200, `attempt ${n}`);
        assert.equal(leased.body.attempt, n);
        await batchError(robot, leased.body, `overloaded ${n}`, true);
        const [item] = await items(requestId);
        assert.equal(item.status, 'pending');
        assert.equal(item.attempts, n);
        assert.equal(item.error?.message, `overloaded ${n} (attempt ${n} of ${attempts}; will retry)`);

        const d = delayAfter(n);
        delays.push(d);
        advance(d / 2 - 1);
        assert.equal((await lease(robot)).status, 204, `leasable before half the backoff after attempt ${n}`);
        advance(d / 2 + 1);
      }
      // The last two waits were held at the cap (uncapped they would be 2× and 4× longer than
      // what the loop advanced, so the leases above would have found nothing).
      assert.ok(retryBackoff.baseMs * 2 ** (attempts - 3) > retryBackoff.capMs, `the test reaches the cap: ${delays}`);

      // The last attempt fails for good, with the robot's last message.
      const last = await lease(robot);
      assert.equal(last.body.attempt, attempts);
      await batchError(robot, last.body, 'overloaded, finally', true);
      const [item] = await items(requestId);
      assert.equal(item.status, 'failed');
      assert.deepEqual(item.error, { code: 'robot_error', message: `overloaded, finally (attempt ${attempts} of ${attempts})` });
      assert.equal((await request(requestId)).status, 'failed');
      advance(retryBackoff.capMs + 1000);
      assert.equal((await lease(robot)).status, 204);
    });

    /**
     * Moves the clock through the backoff after attempt `n` in twentieths of it, leasing at each
     * step: nothing before half of it, something by the end. Returns the first batch leased.
     */
    async function firstLeaseAfterBackoff(robot: ProvisionedRobot, n: number): Promise<{ id: string; lease_token: string; item_count: number; attempt: number; results_url: string; items_url: string }> {
      const d = delayAfter(n);
      advance(d / 2 - 1);
      assert.equal((await lease(robot)).status, 204, `leasable before half the backoff after attempt ${n}`);
      for (let step = 0; step <= 10; step++) {
        advance(d / 20);
        const res = await lease(robot);
        if (res.status === 200) return res.body;
        assert.equal(res.status, 204);
      }
      assert.fail(`nothing leasable after the whole backoff after attempt ${n}`);
    }

    it("a batch-wide retryable error: the batch's 1,000 items come back at one moment, as one batch, attempt after attempt", async () => {
      const n = 1000;
      const { robot, requestId } = await setup(n, { max_attempts: 3 });
      let batch = (await lease(robot)).body;
      assert.equal(batch.item_count, n);
      for (const attempt of [1, 2]) {
        await batchError(robot, batch, `busy ${attempt}`, true);
        batch = await firstLeaseAfterBackoff(robot, attempt);
        assert.equal(batch.item_count, n, `attempt ${attempt + 1} came back as a batch of ${batch.item_count}`);
        assert.equal(batch.attempt, attempt + 1);
      }
      assert.ok((await items(requestId)).every((i) => i.status === 'leased' && i.attempts === 3));
    });

    it("a lapsed lease: the batch's 1,000 items come back at one moment, as one batch", async () => {
      const n = 1000;
      const { robot, requestId } = await setup(n, { lease: 'PT1M' });
      const first = (await lease(robot)).body;
      assert.equal(first.item_count, n);
      advance(61_000);
      assert.equal((await h().refinery.maintenance.runOnce()).leaseExpiry, 1);
      const again = await firstLeaseAfterBackoff(robot, 1);
      assert.equal(again.item_count, n);
      assert.equal(again.attempt, 2);
      assert.ok((await items(requestId)).every((i) => i.status === 'leased' && i.attempts === 2));
    });

    it("a batch's retryable answers and its missing items come back together, as one batch", async () => {
      const { robot, recordIds } = await setup(1000, { max_attempts: 3 });
      const first = (await lease(robot)).body;
      // 400 answered with a retryable error, 300 done, 300 never mentioned (missing: retried too).
      await uploadResults(first, [
        ...recordIds.slice(0, 400).map((id) => ({ record_id: id, error: { message: 'the image server timed out', retryable: true } })),
        ...recordIds.slice(400, 700).map((id) => ({ record_id: id, type: 'annotation', content: { ok: true } })),
      ]);
      assert.equal((await postResults(robot, first)).status, 202);
      await h().refinery.background.drain();
      const again = await firstLeaseAfterBackoff(robot, 1);
      assert.equal(again.item_count, 700);
      const lines = (await (await fetch(again.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.record.id).sort(), [...recordIds.slice(0, 400), ...recordIds.slice(700)].sort());
    });

    it('batches failing at one moment each draw their own backoff: their retries spread out', async () => {
      const batches = 8;
      const { robot } = await setup(batches, { max_attempts: 3 });
      for (let b = 0; b < batches; b++) {
        const one = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=1');
        assert.equal(one.body.item_count, 1);
        await batchError(robot, one.body, 'busy', true);
      }
      // Through the backoff's second half in steps of a fiftieth: the batches come back at different steps.
      const d = delayAfter(1);
      advance(d / 2 - 1);
      const comeBack: number[] = [];
      for (let step = 0; step <= 26; step++) {
        const res = await lease(robot);
        if (res.status === 200) comeBack.push(res.body.item_count);
        advance(d / 50);
      }
      assert.equal(comeBack.reduce((a, b) => a + b, 0), batches);
      assert.ok(comeBack.length > 1, `all ${batches} batches came back at one moment`);
    });

    /**
     * A 1,000-item batch fails while `poller`'s robot waits in a long poll on `poller`'s process;
     * only the wake-up due at the backoff's end can answer it early (the re-check is set to a minute).
     */
    async function pollThroughBackoff(poller: Harness) {
      const n = 1000;
      const { robot } = await setup(n, { max_attempts: 3 });
      const first = (await lease(robot)).body;
      const { work } = poller.refinery.ctx;
      const recheckMs = work.recheckMs;
      work.recheckMs = 60_000;
      try {
        const polling = poller.robotCall(robot, 'POST', '/v1/batches/lease?wait=PT30S');
        await eventually(async () => (work.waiting(robot.id) === 1 ? true : undefined), 10_000, 'the poll waiting');
        await batchError(robot, first, 'busy', true);
        // Time for the retry's NOTIFY to reach the poll's process while the items still back off.
        await new Promise((r) => setTimeout(r, 500));
        advance(delayAfter(1));
        // Not woken, the poll would look again only when its 30 s wait ends.
        const leased = await within(polling, 20_000);
        assert.ok(leased, 'the poll was still waiting 20 s after the backoff ended');
        assert.equal(leased.status, 200);
        assert.equal(leased.body.item_count, n);
        assert.equal(leased.body.attempt, 2);
      } finally {
        work.recheckMs = recheckMs;
      }
    }

    it('a long poll waiting through a backoff is answered with the whole batch when the backoff ends, in the same poll', async () => {
      await pollThroughBackoff(h());
    });

    it('a long poll waiting in another Refinery process is answered when the backoff ends: the moment travels with the NOTIFY', async () => {
      // A second process on the same database and clock; the batch fails through the first.
      const { other, close } = await openOtherProcess(h(), { adminKey: h().adminKey, clock: h().clock });
      try {
        await pollThroughBackoff(other);
      } finally {
        await close();
      }
    });

    it('a batch-wide error with retryable false fails every item at once with the message', async () => {
      const { robot, requestId } = await setup(3, { max_attempts: 5 });
      const leased = await lease(robot);
      await batchError(robot, leased.body, 'the model refuses this input', false);
      for (const item of await items(requestId)) {
        assert.equal(item.status, 'failed');
        assert.equal(item.attempts, 1);
        assert.deepEqual(item.error, { code: 'robot_error', message: 'the model refuses this input (attempt 1 of 5)' });
      }
      assert.equal((await request(requestId)).status, 'failed');
      advance(retryBackoff.capMs + 1000);
      assert.equal((await lease(robot)).status, 204);
    });

    it('per-record errors: retryable ones go back to pending with backoff, others fail at once; the last message stays', async () => {
      const { robot, requestId, recordIds } = await setup(4, { max_attempts: 2 });
      const [done, flaky, broken, unsaid] = recordIds;
      const first = await lease(robot);
      assert.equal(first.body.item_count, 4);
      await uploadResults(first.body, [
        { record_id: done, type: 'annotation', content: { ok: true } },
        { record_id: flaky, error: { message: 'the image server timed out', retryable: true } },
        { record_id: broken, error: { message: 'the PDF is encrypted', retryable: false } },
        { record_id: unsaid, error: { message: 'no text found' } },
      ]);
      assert.equal((await postResults(robot, first.body)).status, 202);
      await h().refinery.background.drain();

      const byRecord = Object.fromEntries((await items(requestId)).map((i) => [i.record_id, i]));
      assert.equal(byRecord[done].status, 'completed');
      assert.equal(byRecord[flaky].status, 'pending');
      assert.deepEqual(byRecord[flaky].error, { code: 'robot_error', message: 'the image server timed out (attempt 1 of 2; will retry)' });
      assert.equal(byRecord[broken].status, 'failed');
      assert.deepEqual(byRecord[broken].error, { code: 'robot_error', message: 'the PDF is encrypted' });
      assert.equal(byRecord[unsaid].status, 'failed', 'retryable defaults to false');
      assert.deepEqual(byRecord[unsaid].error, { code: 'robot_error', message: 'no text found' });
      assert.equal((await request(requestId)).status, 'processing');

      // The report names every per-record error.
      const batches = await h().api('GET', `/v1/requests/${requestId}/batches`);
      const report = (await (await fetch(batches.body.data[0].report_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(report.filter((r) => r.outcome === 'robot_error').map((r) => r.record_id).sort(), [flaky, broken, unsaid].sort());

      // Not before the backoff; after it, only the retryable record comes back, on attempt 2.
      assert.equal((await lease(robot)).status, 204);
      advance(delayAfter(1));
      const second = await lease(robot);
      assert.equal(second.status, 200);
      assert.equal(second.body.attempt, 2);
      assert.equal(second.body.item_count, 1);
      const lines = (await (await fetch(second.body.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.record.id), [flaky]);

      // Out of attempts: failed with the robot's last message.
      await uploadResults(second.body, [{ record_id: flaky, error: { message: 'the image server timed out again', retryable: true } }]);
      assert.equal((await postResults(robot, second.body)).status, 202);
      await h().refinery.background.drain();
      const flakyItem = (await items(requestId)).find((i) => i.record_id === flaky)!;
      assert.equal(flakyItem.status, 'failed');
      assert.equal(flakyItem.attempts, 2);
      assert.deepEqual(flakyItem.error, { code: 'robot_error', message: 'the image server timed out again (attempt 2 of 2)' });
      const finished = await request(requestId);
      assert.equal(finished.status, 'completed_with_errors');
      assert.deepEqual({ completed: finished.counts.completed, failed: finished.counts.failed }, { completed: 1, failed: 3 });
    });

    it('a per-record error whose retryable is not a boolean is rejected, not retried', async () => {
      const { robot, requestId, recordIds } = await setup(1, { max_attempts: 3 });
      const leased = await lease(robot);
      await uploadResults(leased.body, [{ record_id: recordIds[0], error: { message: 'hmm', retryable: 'yes' } }]);
      assert.equal((await postResults(robot, leased.body)).status, 202);
      await h().refinery.background.drain();
      const [item] = await items(requestId);
      assert.equal(item.status, 'failed');
      assert.equal(item.error?.code, 'rejected');
      assert.match(item.error!.message, /error\.retryable must be true or false/);
    });
  },
  { manualClock: true },
);
