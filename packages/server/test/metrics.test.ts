import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { describeEachBackend, eventually, references, type Harness } from './support/harness.ts';
import { advance } from './support/lifecycle.ts';

// /metrics as an operator reads it: real work is driven through the API, the background loops
// run once each, and every refinery_* family must move as that work says. A family declared but
// not checked here fails the last test.

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The samples of the refinery_* families on /metrics, and the families declared there. */
async function scrape(h: Harness): Promise<{ samples: Sample[]; families: string[] }> {
  const res = await fetch(`${h.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const families = [...text.matchAll(/^# TYPE (refinery_\w+) /gm)].map((m) => m[1]);
  const samples = [...text.matchAll(/^(refinery_\w+)(?:\{(.*)\})? (\S+)$/gm)].map(([, name, labels, value]) => ({
    name,
    labels: Object.fromEntries([...(labels ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v])),
    value: Number(value),
  }));
  return { samples, families };
}

/** The sum of the samples of `name` whose labels include `labels`. */
function valueOf(scraped: { samples: Sample[] }, name: string, labels: Record<string, string> = {}): number {
  return scraped.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** A loopback HTTP server answering every POST with `state.status`. */
async function answering(status: number) {
  const state = { status, calls: 0 };
  const server = createServer(async (request, response) => {
    for await (const _ of request);
    state.calls++;
    response.writeHead(state.status).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    state,
    close: () => (server.closeAllConnections(), new Promise((r) => server.close(r))),
  };
}

describeEachBackend(
  'metrics',
  (h) => {
    const checked = new Set<string>();
    /** Runs `work` and asserts each family moved by exactly the delta given (a function: a check on the delta). */
    async function moves(work: () => Promise<void>, expected: Array<[string, Record<string, string>, number | ((delta: number) => boolean)]>) {
      const before = await scrape(h());
      await work();
      const afterWork = await scrape(h());
      for (const [name, labels, want] of expected) {
        const delta = valueOf(afterWork, name, labels) - valueOf(before, name, labels);
        const what = `${name}${JSON.stringify(labels)} moved by ${delta}`;
        if (typeof want === 'number') assert.equal(delta, want, what);
        else assert.ok(want(delta), what);
        checked.add(name.replace(/_(bucket|count|sum)$/, ''));
      }
    }
    const receivers: Array<{ close(): Promise<unknown> }> = [];
    after(async () => {
      for (const r of receivers) await r.close();
    });

    it('counts the records POST /v1/records creates and updates', async () => {
      const records = references(3);
      await moves(() => h().importRecords(records).then(() => undefined), [
        ['refinery_records_imported_total', { outcome: 'created' }, 3],
        ['refinery_records_imported_total', { outcome: 'updated' }, 0],
      ]);
      await moves(() => h().importRecords(records.slice(0, 1)).then(() => undefined), [
        ['refinery_records_imported_total', { outcome: 'created' }, 0],
        ['refinery_records_imported_total', { outcome: 'updated' }, 1],
      ]);
    });

    it('follows a pulled batch: leased, imported item by item outcome, a lease that lapses, the request finished, its webhooks', async () => {
      const hook = await answering(500);
      receivers.push(hook);
      const robot = await h().createRobot({ max_attempts: 2 });
      const r = { robot: robot.id };
      const recordIds = await h().importRecords(references(4));
      let requestId = '';
      await moves(
        async () => {
          const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds, callback_url: hook.url } });
          assert.equal(created.status, 202);
          requestId = created.body.id;
        },
        [
          ['refinery_requests_created_total', {}, 1],
          ['refinery_items', { status: 'pending' }, 4],
          ['refinery_items_pending', { ...r, priority: 'normal' }, 4],
          ['refinery_items_pending', { ...r, priority: 'high' }, 0],
          ['refinery_http_request_duration_seconds_count', { method: 'POST', route: '/v1/requests', status: '202' }, 1],
        ],
      );

      // Waiting a minute ages the oldest pending item by a minute.
      await moves(async () => advance(h(), 60_000), [['refinery_oldest_pending_item_age_seconds', r, 60]]);

      let batch: { id: string; lease_token: string; results_url: string } | null = null;
      await moves(
        async () => {
          const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=4');
          assert.equal(leased.status, 200);
          batch = leased.body;
        },
        [
          ['refinery_batches_leased_total', r, 1],
          ['refinery_items_leased_total', r, 4],
          ['refinery_items', { status: 'pending' }, -4],
          ['refinery_items', { status: 'leased' }, 4],
          ['refinery_items_pending', { ...r, priority: 'normal' }, -4],
          ['refinery_oldest_pending_item_age_seconds', r, -60],
        ],
      );

      // One item each: completed, rejected (failed), a retryable error (back to pending), an error for good (failed).
      const [done, rejected, retryable, broken] = recordIds;
      const lines = [
        { record_id: done, type: 'annotation', content: { ok: true } },
        { record_id: rejected, type: 'not-produced', content: {} },
        { record_id: retryable, error: { message: 'try me later', retryable: true } },
        { record_id: broken, error: { message: 'cannot read it' } },
      ];
      await moves(
        async () => {
          const put = await fetch(batch!.results_url, { method: 'PUT', body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
          assert.equal(put.status, 200);
          assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch!.id}/results`, { lease_token: batch!.lease_token })).status, 202);
          await h().refinery.background.drain();
        },
        [
          ['refinery_batches_imported_total', r, 1],
          ['refinery_batch_import_duration_seconds_count', r, 1],
          ['refinery_batch_import_duration_seconds_sum', r, (d) => d > 0],
          ['refinery_items_finished_total', { ...r, status: 'completed' }, 1],
          ['refinery_items_finished_total', { ...r, status: 'failed' }, 2],
          ['refinery_items_retried_total', r, 1],
          ['refinery_items', { status: 'leased' }, -4],
          ['refinery_items', { status: 'pending' }, 1],
        ],
      );

      // The retried item, leased again once its backoff is over, and never answered: its lease lapses, it fails for good.
      advance(h(), 60 * 60_000);
      await moves(
        async () => {
          const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
          assert.equal(leased.status, 200);
          advance(h(), 11 * 60_000);
          await h().refinery.maintenance.runOnce();
        },
        [
          ['refinery_items_leased_total', r, 1],
          ['refinery_lease_expiries_total', r, 1],
          ['refinery_items_finished_total', { ...r, status: 'failed' }, 1],
          ['refinery_items_retried_total', r, 0],
          ['refinery_requests_finished_total', { status: 'completed_with_errors' }, 1],
          ['refinery_webhook_deliveries_pending', {}, (d) => d >= 1],
        ],
      );
      assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.status, 'completed_with_errors');

      // Its webhooks: refused by the receiver first, then delivered.
      await moves(() => h().refinery.maintenance.eventSender.runOnce().then(() => undefined), [
        ['refinery_webhook_deliveries_total', { outcome: 'failed' }, (d) => d >= 1 && d === hook.state.calls],
        ['refinery_webhook_deliveries_total', { outcome: 'delivered' }, 0],
      ]);
      hook.state.status = 204;
      advance(h(), 2 * 60 * 60_000);
      await moves(() => h().refinery.maintenance.eventSender.runOnce().then(() => undefined), [
        ['refinery_webhook_deliveries_total', { outcome: 'delivered' }, (d) => d >= 1],
        ['refinery_webhook_deliveries_total', { outcome: 'failed' }, 0],
      ]);
      assert.equal(valueOf(await scrape(h()), 'refinery_webhook_deliveries_pending'), 0);
    });

    it('counts a batch handed to a waiting long poll once', async () => {
      const robot = await h().createRobot();
      const [recordId] = await h().importRecords(references(1));
      await moves(
        async () => {
          const poll = h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT20S');
          await eventually(async () => (h().refinery.ctx.work.waiting(robot.id) > 0 ? true : undefined), 10_000, 'the long poll');
          const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
          assert.equal(created.body.counts.leased, 1, 'leased to the poll by the create');
          assert.equal((await poll).status, 200);
        },
        [
          ['refinery_batches_leased_total', { robot: robot.id }, 1],
          ['refinery_items_leased_total', { robot: robot.id }, 1],
        ],
      );
    });

    it('counts pushed batches by how their delivery ended', async () => {
      const down = await answering(500);
      receivers.push(down);
      const robot = await h().createRobot({ delivery: { mode: 'push', url: down.url } });
      const r = { robot: robot.id };
      const recordIds = await h().importRecords(references(2));
      assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
      await moves(() => h().refinery.pusher.runOnce().then(() => undefined), [
        ['refinery_push_deliveries_total', { ...r, outcome: 'failed' }, 1],
        ['refinery_push_delivery_failures_total', { ...r, status: '500' }, 1],
        ['refinery_batches_leased_total', r, 1],
        ['refinery_items_leased_total', r, 2],
        ['refinery_items_retried_total', r, 2],
      ]);
    });

    it('counts each maintenance pass, what it touched and how long it took, by service', async () => {
      await moves(() => h().refinery.maintenance.runOnce().then(() => undefined), [
        ['refinery_maintenance_runs_total', { service: 'lease-expiry', outcome: 'ok' }, 1],
        ['refinery_maintenance_runs_total', { service: 'deadlines', outcome: 'ok' }, 1],
        ['refinery_maintenance_runs_total', { outcome: 'failed' }, 0],
        ['refinery_maintenance_touched_total', { service: 'import-resumption' }, 0],
        ['refinery_maintenance_duration_seconds_count', { service: 'manifests' }, 1],
      ]);
    });

    it('counts the pending items of each priority, per robot', async () => {
      const robot = await h().createRobot();
      const r = { robot: robot.id };
      const recordIds = await h().importRecords(references(3));
      await moves(
        async () => {
          assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds.slice(0, 2), priority: 'critical' } })).status, 202);
          assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds.slice(2), priority: 'low' } })).status, 202);
        },
        [
          ['refinery_items_pending', { ...r, priority: 'critical' }, 2],
          ['refinery_items_pending', { ...r, priority: 'low' }, 1],
          ['refinery_items_pending', { ...r, priority: 'normal' }, 0],
          ['refinery_oldest_pending_item_age_seconds', r, 0],
        ],
      );
    });

    it("reports the PostgreSQL pools' use (none on embedded PGlite)", async () => {
      const pools = async () => {
        const scraped = await scrape(h());
        return {
          max: valueOf(scraped, 'refinery_db_pool_max_connections'),
          inUse: valueOf(scraped, 'refinery_db_pool_connections', { state: 'in_use' }),
          open: valueOf(scraped, 'refinery_db_pool_connections'),
          waiting: valueOf(scraped, 'refinery_db_pool_waiting'),
          samples: scraped.samples.filter((s) => s.name.startsWith('refinery_db_pool_')).length,
        };
      };
      // Calls in parallel take connections and give them back: the pool's size does not move, nothing waits.
      await moves(async () => {
        await Promise.all(Array.from({ length: 4 }, () => h().api('GET', '/v1/robots')));
      }, [
        ['refinery_db_pool_max_connections', {}, 0],
        ['refinery_db_pool_connections', {}, (d) => d >= 0],
        ['refinery_db_pool_waiting', {}, 0],
      ]);
      const seen = await pools();
      if (h().backend === 'pglite') {
        assert.equal(seen.samples, 0);
      } else {
        assert.ok(seen.max >= 2, `pool size ${seen.max}`);
        assert.ok(seen.open >= 1 && seen.open <= seen.max, `open ${seen.open} of ${seen.max}`);
        assert.ok(seen.inUse >= 0 && seen.inUse <= seen.open);
        assert.equal(seen.waiting, 0);
      }
    });

    it('declares no family the tests above leave unchecked', async () => {
      const { families } = await scrape(h());
      assert.deepEqual(families.filter((f) => !checked.has(f)), []);
    });
  },
  { manualClock: true },
);
