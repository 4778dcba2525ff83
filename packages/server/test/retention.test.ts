import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import pino from 'pino';
import { createCleanup } from '../src/retention/cleanup.ts';
import { describeEachBackend, eventually, references } from './support/harness.ts';

const minute = 60_000;

// Retention and decay (issue 3, point 11) on a clock the tests move. A record's age counts from
// its created_at. Aged out: new items `expired` with the reason, and the cleanup removes the
// record with its identifiers and enhancements. With decay, items in between are `denied` with
// probability 1 − p, p falling linearly from 1 at full_until to 0 at aged_out.
describeEachBackend(
  'retention',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);
    let typeCounter = 0;
    /** A record type of this test alone, so the policies of one test never reach another's records. */
    const newType = (base: string) => `${base}-${++typeCounter}`;
    const records = (type: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ type, identifiers: [{ type: 'asset', value: `${type}-${Date.now()}-${Math.random().toString(36).slice(2)}-${i}` }], content: { i } }));
    const putPolicy = (type: string, retention: unknown, key?: string) => h().api('PUT', `/v1/record-types/${type}`, { body: { retention }, key });
    const items = async (requestId: string, status?: string) =>
      (await h().api('GET', `/v1/requests/${requestId}/items?limit=1000${status ? `&status=${status}` : ''}`)).body.data as Array<{ record_id: string; status: string; error: { code: string; message: string } | null }>;

    it('sets, reads and removes a record type policy; only an admin may set one; nonsense is refused', async () => {
      const type = newType('photo');
      const set = await putPolicy(type, { full_until: 'PT35M', aged_out: '5400', decay: true });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body.retention, { full_until: 'PT2100S', aged_out: 'PT5400S', decay: true });
      assert.equal(set.body.type, type);

      const list = await h().api('GET', '/v1/record-types');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.data.find((t: { type: string }) => t.type === type)?.retention, { full_until: 'PT2100S', aged_out: 'PT5400S', decay: true });
      assert.deepEqual((await h().api('GET', `/v1/record-types/${type}`)).body.retention, { full_until: 'PT2100S', aged_out: 'PT5400S', decay: true });

      // Without full_until there is no decay window; decay defaults to false.
      const replaced = await putPolicy(type, { aged_out: 'PT2H' });
      assert.deepEqual(replaced.body.retention, { full_until: 'PT7200S', aged_out: 'PT7200S', decay: false });

      const requester = await h().api('POST', '/v1/api-keys', { body: { name: `req-${Date.now()}`, role: 'requester' } });
      assert.equal((await putPolicy(type, { aged_out: 'PT1H' }, requester.body.key)).status, 403);
      assert.equal((await h().api('GET', '/v1/record-types', { key: requester.body.key })).status, 200, 'a requester may read the policies');

      const inverted = await putPolicy(type, { full_until: 'PT2H', aged_out: 'PT1H' });
      assert.equal(inverted.status, 422);
      assert.equal(inverted.body.error.code, 'invalid_retention');
      const noWindow = await putPolicy(type, { full_until: 'PT1H', aged_out: 'PT1H', decay: true });
      assert.equal(noWindow.status, 422);
      assert.equal((await putPolicy(type, { aged_out: 'a while' })).status, 400);
      assert.equal((await putPolicy(type, { aged_out: '0' })).status, 422);
      assert.equal((await putPolicy(type, { aged_out: 'PT1H', keep: true })).status, 400);

      const removed = await putPolicy(type, null);
      assert.equal(removed.status, 200);
      assert.equal(removed.body.retention, null);
      assert.equal((await h().api('GET', `/v1/record-types/${type}`)).body.retention, null);
      assert.ok(!(await h().api('GET', '/v1/record-types')).body.data.some((t: { type: string }) => t.type === type));
    });

    it('items for aged-out records are expired at creation with the reason; younger ones are pending', async () => {
      const type = newType('photo');
      assert.equal((await putPolicy(type, { full_until: 'PT35M', aged_out: 'PT90M' })).status, 200);
      const robot = await h().createRobot({ accepts: [type] });
      const [old] = await h().importRecords(records(type, 1));
      advance(60 * minute);
      const [middle] = await h().importRecords(records(type, 1));
      advance(35 * minute);
      const [fresh] = await h().importRecords(records(type, 1));
      // old is 95 minutes old, middle 35, fresh 0; no decay: only the aged-out one is refused.
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [old, middle, fresh] } });
      assert.equal(created.status, 202);
      assert.deepEqual({ pending: created.body.counts.pending, expired: created.body.counts.expired }, { pending: 2, expired: 1 });
      const [expired] = await items(created.body.id, 'expired');
      assert.equal(expired.record_id, old);
      assert.deepEqual(expired.error, { code: 'record_aged_out', message: `the record aged out: it is 95 minutes old and ${type} records age out at 90 minutes` });

      const lease = await h().robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(lease.body.item_count, 2);

      // Re-sending the record does not make it younger.
      const resent = await h().api('POST', '/v1/records', { body: [{ type, identifiers: [{ type: 'asset', value: (await h().api('GET', `/v1/records/${old}`)).body.identifiers[0].value }] }] });
      assert.deepEqual(resent.body.ids, [old]);
      const again = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [old] } });
      assert.equal(again.body.status, 'failed');
      assert.equal(again.body.counts.expired, 1);
      assert.equal((await putPolicy(type, null)).status, 200, 'the cleanup tests below count only their own records');
    });

    it('with decay, items between full_until and aged_out are denied with probability 1 − p, the probability in the reason', async () => {
      const type = newType('photo');
      assert.equal((await putPolicy(type, { full_until: 'PT35M', aged_out: 'PT90M', decay: true })).status, 200);
      const robot = await h().createRobot({ accepts: [type], max_batch_size: 1000 });
      const ids = await h().importRecords(records(type, 1000));

      // At 30 minutes every record is fully available.
      advance(30 * minute);
      const early = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      assert.equal(early.status, 202);
      assert.equal(early.body.counts.pending, 1000);

      // At 62.5 minutes, halfway between 35 and 90: p = 0.5.
      advance(32.5 * minute);
      const mid = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      assert.equal(mid.status, 202);
      const denied = mid.body.counts.denied;
      assert.ok(denied >= 350 && denied <= 650, `${denied} of 1,000 denied at p = 0.5`);
      assert.equal(mid.body.counts.pending, 1000 - denied);
      const deniedItems = await items(mid.body.id, 'denied');
      assert.equal(deniedItems.length, denied);
      for (const item of deniedItems) {
        assert.deepEqual(item.error, {
          code: 'record_decayed',
          message: `the record is decaying: it is 62 minutes old and ${type} records decay from 35 minutes to 90 minutes; parsing probability 0.50`,
        });
      }

      // Near the end of the window (p = 0.1) most are denied; the reason says so.
      advance(22 * minute);
      const late = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      assert.ok(late.body.counts.denied >= 820 && late.body.counts.denied <= 970, `${late.body.counts.denied} of 1,000 denied at p = 0.1`);
      assert.match((await items(late.body.id, 'denied'))[0].error!.message, /84 minutes old.*parsing probability 0\.10$/);

      // Past aged_out all expire.
      advance(6 * minute);
      const gone = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      assert.equal(gone.body.counts.expired, 1000);
      assert.equal(gone.body.status, 'failed');
      assert.equal((await putPolicy(type, null)).status, 200, 'the cleanup tests below count only their own records');
    });

    it('the cleanup removes aged-out records with their identifiers and enhancements, expires their pending items, and logs it', async () => {
      const type = newType('photo');
      assert.equal((await putPolicy(type, { aged_out: 'PT90M' })).status, 200);
      const robot = await h().createRobot({ accepts: [type] });
      const oldRecords = records(type, 3);
      const oldIds = await h().importRecords(oldRecords);
      const [kept] = await h().importRecords(references(1));
      const [expiring] = await h().importRecords([{ ...records(type, 1)[0], type: 'note', expires_at: new Date(h().clock.now().getTime() + 10 * minute).toISOString() }]);

      // One old record gets an enhancement.
      const first = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [oldIds[0]] } });
      const lease = await h().robotCall(robot, 'POST', '/v1/batches/lease');
      await fetch(lease.body.results_url, { method: 'PUT', body: JSON.stringify({ record_id: oldIds[0], type: 'annotation', content: { x: 1 } }) + '\n' });
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${lease.body.id}/results`, { lease_token: lease.body.lease_token })).status, 202);
      await h().refinery.background.drain();
      assert.equal((await h().api('GET', `/v1/requests/${first.body.id}`)).body.status, 'completed');
      assert.equal((await h().api('GET', `/v1/records/${oldIds[0]}`)).body.enhancements.length, 1);

      advance(60 * minute);
      const [young] = await h().importRecords(records(type, 1));
      // A request whose items wait for a robot: the records will be gone before it leases.
      const waiting = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [oldIds[1], young] } });
      assert.equal(waiting.body.counts.pending, 2);

      const lines: any[] = [];
      const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
      const cleanup = createCleanup({ ctx: { ...h().refinery.ctx, log } });
      assert.deepEqual(await cleanup.runOnce(), { removedRecords: 1, touchedRequests: 0, batchFilesDeleted: 0 }, 'only the record past its own expires_at, so far');
      assert.equal((await h().api('GET', `/v1/records/${expiring}`)).status, 404);

      advance(31 * minute); // the old records are 91 minutes old, the young one 31
      assert.deepEqual(await cleanup.runOnce(), { removedRecords: 3, touchedRequests: 1, batchFilesDeleted: 0 });
      for (const id of oldIds) assert.equal((await h().api('GET', `/v1/records/${id}`)).status, 404);
      assert.equal((await h().api('GET', `/v1/records/${young}`)).status, 200);
      assert.equal((await h().api('GET', `/v1/records/${kept}`)).status, 200);

      // Identifiers and enhancements went with them.
      const { rows } = await h().refinery.ctx.db.query<{ identifiers: number; enhancements: number }>(
        `select (select count(*)::int from record_identifiers where record_id = any($1::uuid[])) as identifiers, (select count(*)::int from enhancements where record_id = any($1::uuid[])) as enhancements`,
        [oldIds],
      );
      assert.deepEqual(rows[0], { identifiers: 0, enhancements: 0 });
      const lookup = await h().api('GET', `/v1/records?identifier=asset:${encodeURIComponent(oldRecords[0].identifiers[0].value)}`);
      assert.equal(lookup.body.data.length, 0);
      // Sent again, the identifier makes a new, young record.
      const [reborn] = await h().importRecords([oldRecords[0]]);
      assert.notEqual(reborn, oldIds[0]);

      // The pending item of the removed record is expired with the reason; the other still waits.
      const byRecord = Object.fromEntries((await items(waiting.body.id)).map((i) => [i.record_id, i]));
      assert.equal(byRecord[oldIds[1]].status, 'expired');
      assert.deepEqual(byRecord[oldIds[1]].error, { code: 'record_aged_out', message: 'the record aged out and was removed before a robot took it' });
      assert.equal(byRecord[young].status, 'pending');
      // The finished request keeps its outcome.
      assert.equal((await h().api('GET', `/v1/requests/${first.body.id}`)).body.counts.completed, 1);

      const logged = lines.filter((l) => l.msg === 'cleanup removed aged-out records');
      assert.deepEqual(logged.map((l) => [l.records, l.by_type]), [[1, { note: 1 }], [3, { [type]: 3 }]]);

      // Nothing more to remove.
      assert.deepEqual(await cleanup.runOnce(), { removedRecords: 0, touchedRequests: 0, batchFilesDeleted: 0 });
      assert.equal(lines.filter((l) => l.msg === 'cleanup removed aged-out records').length, 2, 'a pass that removes nothing logs nothing');
    });

    it('the cleanup finishes a request whose last pending items it expired, and removes many records in passes', async () => {
      const type = newType('photo');
      assert.equal((await putPolicy(type, { aged_out: 'PT10M' })).status, 200);
      const robot = await h().createRobot({ accepts: [type] });
      const ids = await h().importRecords(records(type, 25));
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      assert.equal(created.body.counts.pending, 25);
      advance(11 * minute);
      const cleanup = createCleanup({ ctx: h().refinery.ctx, config: { batchLimit: 10 } });
      assert.deepEqual(await cleanup.runOnce(), { removedRecords: 25, touchedRequests: 1, batchFilesDeleted: 0 });
      await h().refinery.background.drain();
      const request = (await h().api('GET', `/v1/requests/${created.body.id}`)).body;
      assert.equal(request.status, 'failed');
      assert.equal(request.counts.expired, 25);
      assert.ok(request.manifest_url, 'the manifest is written');
      assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease')).status, 204);
    });

    it('the cleanup loop: starting or stopping it twice is harmless, and it stops for good', async () => {
      const type = newType('photo');
      assert.equal((await putPolicy(type, { aged_out: '60' })).status, 200);
      const [first] = await h().importRecords(records(type, 1));
      advance(61_000);
      const cleanup = createCleanup({ ctx: h().refinery.ctx, config: { intervalMs: 20 } });
      cleanup.start();
      cleanup.start();
      await eventually(async () => ((await h().api('GET', `/v1/records/${first}`)).status === 404 ? true : undefined), 10_000, 'the loop to remove the record');
      await cleanup.stop();
      await cleanup.stop();
      const [second] = await h().importRecords(records(type, 1));
      advance(61_000);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await h().api('GET', `/v1/records/${second}`)).status, 200, 'a stopped loop removes nothing');
      cleanup.start();
      await eventually(async () => ((await h().api('GET', `/v1/records/${second}`)).status === 404 ? true : undefined), 10_000, 'the restarted loop');
      await cleanup.stop();
    });
  },
  { manualClock: true },
);
