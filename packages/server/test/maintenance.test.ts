import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { describeEachBackend, type Harness } from './support/harness.ts';
import { createRequest, leaseRecords } from './support/lifecycle.ts';

const advance = (h: Harness, ms: number) => (h.clock as unknown as { advance(ms: number): void }).advance(ms);

/** The value of a metric line `name{labels}` in /metrics, or 0. */
async function metric(h: () => Harness, name: string, labels: string): Promise<number> {
  const text = (await h().api('GET', '/metrics', { key: null })).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
  return line ? Number(line.split(' ').pop()) : 0;
}

it('each maintenance interval is a setting of its own, checked at start', () => {
  const config = loadConfig({}, { REFINERY_LEASE_EXPIRY_INTERVAL: '0.25', REFINERY_VACUUM_INTERVAL: 'PT10M' });
  assert.equal(config.maintenanceIntervalsMs.leaseExpiry, 250);
  assert.equal(config.maintenanceIntervalsMs.vacuum, 600_000);
  assert.equal(config.maintenanceIntervalsMs.deadlines, 1000);
  assert.throws(() => loadConfig({}, { REFINERY_DEADLINES_INTERVAL: 'soon' }), /REFINERY_DEADLINES_INTERVAL must be a duration from 10 milliseconds to 1 day/);
  assert.throws(() => loadConfig({}, { REFINERY_MANIFESTS_INTERVAL: '0' }), /REFINERY_MANIFESTS_INTERVAL/);
});

describeEachBackend(
  'maintenance services',
  (h) => {
    it('lease expiry, run once on a moved clock, gives a lapsed batch back, and counts its pass and what it touched', async () => {
      const robot = await h().createRobot({ lease: 'PT1M' });
      const ids = await h().importRecords([{ type: 'reference', identifiers: [{ type: 'doi', value: `10.1/m-${Date.now()}` }], content: {} }]);
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids });
      assert.ok(await leaseRecords(h(), robot, 10));
      const runs = await metric(h, 'refinery_maintenance_runs_total', 'service="lease-expiry",outcome="ok"');
      const touched = await metric(h, 'refinery_maintenance_touched_total', 'service="lease-expiry"');

      const leaseExpiry = h().refinery.maintenance.leaseExpiry;
      assert.equal(await leaseExpiry.runOnce(), 0, 'the lease has not lapsed yet');
      advance(h(), 61_000);
      assert.equal(await leaseExpiry.runOnce(), 1);

      const items = await h().api('GET', `/v1/requests/${requestId}/items`);
      assert.equal(items.body.data[0].status, 'pending');
      assert.equal(items.body.data[0].error.code, 'lease_expired');
      assert.equal(await metric(h, 'refinery_maintenance_runs_total', 'service="lease-expiry",outcome="ok"'), runs + 2);
      assert.equal(await metric(h, 'refinery_maintenance_touched_total', 'service="lease-expiry"'), touched + 1);
      assert.ok((await metric(h, 'refinery_maintenance_duration_seconds_count', 'service="lease-expiry"')) >= 2);
    });

    it('deadlines, run once on a moved clock, expire a request past its deadline', async () => {
      const robot = await h().createRobot();
      const ids = await h().importRecords([{ type: 'reference', identifiers: [{ type: 'doi', value: `10.1/d-${Date.now()}` }], content: {} }]);
      const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: ids, ttl: 'PT1M' });
      assert.equal(await h().refinery.maintenance.deadlines.runOnce(), 0);
      advance(h(), 61_000);
      assert.equal(await h().refinery.maintenance.deadlines.runOnce(), 1);
      assert.equal((await h().api('GET', `/v1/requests/${requestId}`)).body.status, 'expired');
    });

    it('nonce cleanup deletes the nonces of signatures past their window', async () => {
      const robot = await h().createRobot();
      await leaseRecords(h(), robot, 1);
      advance(h(), 24 * 3600_000);
      assert.ok((await h().refinery.maintenance.nonceCleanup.runOnce()) >= 1);
      assert.equal(await h().refinery.maintenance.nonceCleanup.runOnce(), 0);
    });
  },
  { manualClock: true },
);
