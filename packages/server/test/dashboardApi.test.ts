import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, references } from './support/harness.ts';
import { advance, createRequest, leaseRecords } from './support/lifecycle.ts';
import { requesterKey } from './support/requestEvents.ts';

// The routes the dashboard reads beside the rest of the API (docs/dashboard.md), over HTTP, and
// the dashboard's own pages at /ui.
describeEachBackend(
  'dashboard API',
  (h) => {
    /** A request of three records whose robot completes the first and fails the other two with `messages`. */
    async function requestWithFailures(messages: [string, string]) {
      const robot = await h().createRobot({ lease: 'PT1H', max_attempts: 1 });
      const ids = await h().importRecords(references(3));
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids, priority: 'high' });
      const batch = (await leaseRecords(h(), robot, 10))!;
      const lines = [
        { record_id: batch.recordIds[0], type: 'annotation', content: { score: 0.5 } },
        { record_id: batch.recordIds[1], error: { message: messages[0], retryable: false } },
        { record_id: batch.recordIds[2], error: { message: messages[1], retryable: false } },
      ];
      assert.equal((await fetch(batch.results_url, { method: 'PUT', body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' })).status, 200);
      const posted = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      await h().refinery.background.drain();
      const done = await h().api('GET', `/v1/requests/${requestId}`);
      assert.equal(done.body.status, 'completed_with_errors');
      return { robot, requestId, failed: [batch.recordIds[1], batch.recordIds[2]] };
    }

    it('groups a request’s errors by code with counts, and pages its failed items with their messages', async () => {
      const { requestId, failed } = await requestWithFailures(['timeout talking to the model', 'the title is empty']);
      const groups = await h().api('GET', `/v1/requests/${requestId}/errors`);
      assert.equal(groups.status, 200);
      assert.equal(groups.body.data.length, 1);
      assert.equal(groups.body.data[0].code, 'robot_error');
      assert.equal(groups.body.data[0].status, 'failed');
      assert.equal(groups.body.data[0].count, 2);
      assert.ok(['timeout talking to the model', 'the title is empty'].includes(groups.body.data[0].message));

      const first = await h().api('GET', `/v1/requests/${requestId}/items?status=failed&limit=1`);
      assert.equal(first.status, 200);
      assert.equal(first.body.data.length, 1);
      assert.ok(first.body.next_cursor);
      const second = await h().api('GET', `/v1/requests/${requestId}/items?status=failed&limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`);
      assert.equal(second.body.data.length, 1);
      assert.equal(second.body.next_cursor, null);
      const items = [...first.body.data, ...second.body.data];
      assert.deepEqual(items.map((i) => i.record_id).sort(), [...failed].sort());
      assert.deepEqual(items.map((i) => i.error.message).sort(), ['the title is empty', 'timeout talking to the model']);
      assert.equal((await h().api('GET', `/v1/requests/${requestId}/items?status=completed`)).body.data.length, 1);
    });

    it('gives a request’s throughput over time from its progress events', async () => {
      const { requestId } = await requestWithFailures(['a', 'b']);
      const res = await h().api('GET', `/v1/requests/${requestId}/throughput`);
      assert.equal(res.status, 200);
      assert.ok(res.body.bucket_seconds >= 1);
      const sum = (k: 'completed' | 'failed') => res.body.data.reduce((s: number, p: Record<string, number>) => s + p[k], 0);
      assert.equal(sum('completed'), 1);
      assert.equal(sum('failed'), 2);
      const wide = await h().api('GET', `/v1/requests/${requestId}/throughput?bucket_seconds=3600`);
      assert.equal(wide.body.bucket_seconds, 3600);
      assert.equal(wide.body.data.length, 1);
    });

    it('gives each robot’s state and last hour: leases held, items per minute, error rate, lease expiries', async () => {
      const { robot } = await requestWithFailures(['x', 'y']);
      const ids = await h().importRecords(references(2));
      await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      const held = (await leaseRecords(h(), robot, 1))!;
      assert.ok(held);
      const stats = async () => {
        const all = [];
        for (let cursor: string | null = null; ; ) {
          const res: { status: number; body: { data: Array<Record<string, unknown>>; next_cursor: string | null } } = await h().api('GET', `/v1/robots/stats?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          assert.equal(res.status, 200);
          all.push(...res.body.data);
          if (!(cursor = res.body.next_cursor)) break;
        }
        return all.find((r) => r.id === robot.id)!;
      };
      const s = await stats();
      assert.equal(s.name, robot.name);
      assert.equal(s.active, true);
      assert.equal(s.mode, 'pull');
      assert.equal(s.leases_held, 1);
      assert.equal(s.items_per_minute, 3 / 60);
      assert.equal(s.error_rate, 2 / 3);
      assert.equal(s.lease_expiries_last_hour, 0);
      assert.ok(s.last_seen_at);

      // Its lease lapses and the sweeper expires it.
      advance(h(), 2 * 3600_000);
      await h().refinery.maintenance.runOnce();
      const later = await stats();
      assert.equal(later.leases_held, 0);
      assert.equal(later.lease_expiries_last_hour, 1);
      assert.equal(later.items_per_minute, 0, 'the finished batch is older than an hour now');
      assert.equal(later.error_rate, null);
    });

    it('gives the overview: queue depth by robot and priority, the oldest pending item’s age, items finished per second, failing webhooks', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(3)), priority: 'low' });
      advance(h(), 60_000);
      await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(2)), priority: 'critical' });
      await requestWithFailures(['p', 'q']);
      const res = await h().api('GET', '/v1/overview');
      assert.equal(res.status, 200);
      const mine = res.body.queue.filter((q: { robot_id: string }) => q.robot_id === robot.id);
      assert.deepEqual(
        mine.map((q: { priority: string; pending: number; robot_name: string }) => [q.robot_name, q.priority, q.pending]),
        [
          [robot.name, 'critical', 2],
          [robot.name, 'low', 3],
        ],
      );
      assert.ok(res.body.oldest_pending_age_seconds >= 60);
      const finished = res.body.finished_last_hour.reduce((s: number, p: { completed_per_second: number }) => s + p.completed_per_second * 60, 0);
      assert.ok(finished >= 1, `completed in the last hour: ${finished}`);
      assert.equal(typeof res.body.webhooks.failing, 'number');
    });

    it('filters requests by requester; a requester sees only its own, and learns who it is', async () => {
      const robot = await h().createRobot();
      const alice = await requesterKey(h(), 'alice');
      const bob = await requesterKey(h(), 'bob');
      const aliceRequest = await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(1)) }, alice);
      const bobRequest = await createRequest(h(), { robot_id: robot.id, record_ids: await h().importRecords(references(1)) }, bob);
      const me = await h().api('GET', '/v1/api-keys/me', { key: alice });
      assert.equal(me.status, 200);
      assert.equal(me.body.name, 'alice');
      assert.equal(me.body.role, 'requester');

      const byAlice = await h().api('GET', `/v1/requests?requested_by=${me.body.id}`);
      assert.deepEqual(byAlice.body.data.map((r: { id: string }) => r.id), [aliceRequest]);
      const own = await h().api('GET', '/v1/requests', { key: bob });
      assert.deepEqual(own.body.data.map((r: { id: string }) => r.id), [bobRequest]);
      const others = await h().api('GET', `/v1/requests?requested_by=${me.body.id}`, { key: bob });
      assert.deepEqual(others.body.data, []);
      for (const path of ['errors', 'throughput', 'items']) assert.equal((await h().api('GET', `/v1/requests/${aliceRequest}/${path}`, { key: bob })).status, 404, path);
      for (const path of ['/v1/overview', '/v1/robots/stats']) assert.equal((await h().api('GET', path, { key: bob })).status, 403, path);
    });

    it('answers bad input with a clear 4xx', async () => {
      const cases: Array<[string, number, string]> = [
        ['/v1/requests/not-a-uuid/errors', 400, 'invalid_request'],
        ['/v1/requests/0190b7a4-0000-7000-8000-000000000000/throughput', 404, 'not_found'],
        ['/v1/requests/0190b7a4-0000-7000-8000-000000000000/throughput?bucket_seconds=0', 400, 'invalid_request'],
        ['/v1/robots/stats?cursor=garbage', 400, 'invalid_cursor'],
        ['/v1/robots/stats?limit=5000', 400, 'invalid_request'],
        ['/v1/requests?requested_by=someone', 400, 'invalid_request'],
      ];
      for (const [path, status, code] of cases) {
        const res = await h().api('GET', path);
        assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, code, path);
      }
      assert.equal((await h().api('GET', '/v1/api-keys/me', { key: 'not-a-key' })).status, 401);
    });

    it('serves the dashboard at /ui, and / redirects there', async () => {
      const root = await fetch(`${h().url}/`, { redirect: 'manual' });
      assert.equal(root.status, 302);
      assert.equal(root.headers.get('location'), '/ui/');
      for (const path of ['/ui/', '/ui/requests/0190b7a4-0000-7000-8000-000000000000', '/ui/robots']) {
        const page = await fetch(`${h().url}${path}`);
        assert.equal(page.status, 200, path);
        assert.match(page.headers.get('content-type') ?? '', /text\/html/);
        const html = await page.text();
        assert.match(html, /<div id="app">/);
        const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
        assert.ok(script, 'the page loads its script');
        assert.equal((await fetch(`${h().url}${script}`)).status, 200);
      }
    });
  },
  { manualClock: true },
);
