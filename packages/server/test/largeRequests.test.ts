import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../src/config.ts';
import { newId } from '../src/ids.ts';
import { createRefinery } from '../src/refinery.ts';
import { RecordIdList } from '../src/requests/requestBody.ts';
import { insertRequestFirstSliceIfNew } from '../src/requests/queries/insertRequestFirstSliceIfNew.ts';
import { writeBacklogSlices } from '../src/requests/queries/writeBacklogSlices.ts';
import { describeEachBackend, references, type Harness, testMasterKey } from './support/harness.ts';
import { advance, createRequest, finishedEvents, leaseRecords, uploadAnnotations } from './support/lifecycle.ts';

type Item = { record_id: string; status: string; error: { code: string; message: string } | null };

/** Every item of a request, all pages, in the listing's order. */
async function allItems(h: Harness, requestId: string): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { data: Item[]; next_cursor: string | null } } = await h.api('GET', `/v1/requests/${requestId}/items?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200);
    items.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor);
  return items;
}

async function getRequest(h: Harness, requestId: string) {
  const res = await h.api('GET', `/v1/requests/${requestId}`);
  assert.equal(res.status, 200);
  return res.body;
}

/** A request created as a process would, that then died before it wrote any of its backlog. */
async function createLeavingBacklog(h: Harness, robotId: string, recordIds: string[], expiresAt: string | null = null, priority = 1): Promise<string> {
  const ids = new RecordIdList();
  for (const id of recordIds) ids.push(id);
  const id = newId();
  const inserted = await insertRequestFirstSliceIfNew(h.refinery.ctx.db, {
    id,
    robotId,
    requestedBy: randomUUID(),
    priority,
    expiresAt,
    callbackUrl: null,
    idempotencyKey: null,
    bodyHash: 'x',
    recordIds: ids,
    now: h.clock.now(),
    slice: h.refinery.ctx.config.createSlice,
  });
  assert.ok(inserted.backlog, 'part of the request waits in its backlog');
  return id;
}

/** Leases, answers and imports batches until none is left. */
async function workThrough(h: Harness, robot: { id: string; secret: string }, limit: number): Promise<void> {
  for (;;) {
    const batch = await leaseRecords(h, robot as never, limit);
    if (!batch) return;
    await uploadAnnotations(batch);
    const posted = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
    assert.equal(posted.status, 202);
    await h.refinery.background.drain();
  }
}

// A request of more ids than REFINERY_CREATE_SLICE is accepted with its first slice of items and
// the rest in a backlog, written while the robot works (docs/large-requests.md).
describeEachBackend(
  'large requests',
  (h) => {
    const slice = 100;
    const setSlice = () => {
      h().refinery.ctx.config.createSlice = slice;
    };

    it('is accepted with every item counted, leases its first slice at once, and writes the rest in request order, duplicates once', async () => {
      setSlice();
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(340));
      const missing = randomUUID();
      // A missing record in the backlog, and a repeat of a first-slice id in it.
      const sent = [...ids.slice(0, 250), missing, ids[3], ...ids.slice(250)];
      const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: sent } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.total, 341);
      assert.equal(res.body.counts.pending, 341, 'the backlog counts as pending from the start');

      const first = (await leaseRecords(h(), robot, 100))!;
      assert.deepEqual(first.recordIds, ids.slice(0, 100), 'the first slice, in request order');
      await h().refinery.background.drain();

      const request = await getRequest(h(), res.body.id);
      assert.equal(request.total, 341);
      assert.deepEqual(
        { pending: request.counts.pending, leased: request.counts.leased, denied: request.counts.denied },
        { pending: 240, leased: 100, denied: 1 },
      );
      const items = await allItems(h(), res.body.id);
      assert.deepEqual(
        items.map((i) => i.record_id),
        [...ids.slice(0, 250), missing, ...ids.slice(250)],
        'every id once, listed in request order',
      );
      const denied = items.find((i) => i.record_id === missing)!;
      assert.equal(denied.status, 'denied');
      assert.equal(denied.error?.code, 'record_not_found');

      await uploadAnnotations(first);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${first.id}/results`, { lease_token: first.lease_token })).status, 202);
      await h().refinery.background.drain();
      await workThrough(h(), robot, 100);
      const done = await getRequest(h(), res.body.id);
      assert.equal(done.status, 'completed_with_errors');
      assert.deepEqual({ completed: done.counts.completed, denied: done.counts.denied, pending: done.counts.pending }, { completed: 340, denied: 1, pending: 0 });
      assert.ok(done.manifest_url, 'the manifest is written');
      const manifest = (await (await fetch(done.manifest_url)).text()).trim().split('\n');
      assert.equal(manifest.length, 341);
    });

    it('a backlog left by a process that died is written by the next sweep, each slice once even with writers racing', async () => {
      setSlice();
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(450));
      const requestId = await createLeavingBacklog(h(), robot.id, ids);
      assert.equal((await allItems(h(), requestId)).length, 100, 'only the first slice is written');

      const db = h().refinery.ctx.db;
      await Promise.all([
        h().refinery.maintenance.runOnce(),
        writeBacklogSlices(db, { now: h().clock.now(), next: true }),
        writeBacklogSlices(db, { now: h().clock.now(), next: true }),
      ]);
      await h().refinery.background.drain();

      const items = await allItems(h(), requestId);
      assert.deepEqual(
        items.map((i) => i.record_id).sort(),
        [...ids].sort(),
        'every id written once',
      );
      const request = await getRequest(h(), requestId);
      assert.equal(request.counts.pending, 450);
      await workThrough(h(), robot, 200);
      assert.equal((await getRequest(h(), requestId)).status, 'completed');
    });

    it('a process shutting down stops writing its backlog after the slice under way; a sweep in another writes the rest (PostgreSQL)', async (t) => {
      if (!h().databaseUrl) return t.skip('one process only on PGlite');
      setSlice();
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(5000));
      const other = await createRefinery({
        config: { ...loadConfig({ port: '0', host: '127.0.0.1', dataDir: h().dataDir, databaseUrl: h().databaseUrl!, adminKey: h().adminKey, logLevel: 'silent' }, { REFINERY_MASTER_KEY: testMasterKey }), createSlice: slice },
        clock: h().clock,
        log: pino({ level: 'silent' }),
        sweep: false,
      });
      let requestId: string;
      try {
        const url = await other.listen();
        const res = await fetch(`${url}/v1/requests`, {
          method: 'POST',
          headers: { authorization: `Bearer ${h().adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ robot_id: robot.id, record_ids: ids }),
        });
        assert.equal(res.status, 202);
        requestId = ((await res.json()) as { id: string }).id;
      } finally {
        await other.close();
      }
      const written = (await allItems(h(), requestId)).length;
      assert.ok(written >= slice && written < 5000, `the closing process stopped writing (${written} of 5000 items written)`);

      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();
      assert.equal((await allItems(h(), requestId)).length, 5000);
      assert.equal((await getRequest(h(), requestId)).counts.pending, 5000);
    });

    it('backlogs are written by priority, then oldest request first, each in order', async () => {
      setSlice();
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(600));
      const low = await createLeavingBacklog(h(), robot.id, ids.slice(0, 300), null, 0);
      const critical = await createLeavingBacklog(h(), robot.id, ids.slice(300), null, 3);
      const order: string[] = [];
      for (;;) {
        const written = await writeBacklogSlices(h().refinery.ctx.db, { now: h().clock.now(), next: true });
        if (written.length === 0) break;
        order.push(...written.map((w) => w.requestId));
      }
      assert.deepEqual(order, [critical, critical, low, low]);
      const items = await allItems(h(), critical);
      assert.deepEqual(items.map((i) => i.record_id), ids.slice(300), 'in request order');
    });

    it('a request whose backlog is all denied finishes when its last slice is written', async () => {
      setSlice();
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(100));
      const requestId = await createLeavingBacklog(h(), robot.id, [...ids, ...Array.from({ length: 150 }, () => randomUUID())]);
      await workThrough(h(), robot, 100);
      assert.equal((await getRequest(h(), requestId)).status, 'processing', 'its backlog is still open');

      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();
      const request = await getRequest(h(), requestId);
      assert.equal(request.status, 'completed_with_errors');
      assert.deepEqual({ completed: request.counts.completed, denied: request.counts.denied, pending: request.counts.pending }, { completed: 100, denied: 150, pending: 0 });
      assert.equal((await finishedEvents(h(), requestId)).length, 1);
    });

    it('cancel writes the backlog and cancels every item that had not finished', async () => {
      setSlice();
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(300));
      const requestId = await createLeavingBacklog(h(), robot.id, ids);
      const batch = (await leaseRecords(h(), robot, 50))!;

      const cancelled = await h().api('POST', `/v1/requests/${requestId}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.status, 'cancelled');
      assert.equal(cancelled.body.counts.cancelled, 300);
      assert.equal(cancelled.body.counts.pending, 0);
      const items = await allItems(h(), requestId);
      assert.equal(items.length, 300);
      assert.ok(items.every((i) => i.status === 'cancelled' && i.error?.code === 'request_cancelled'));
      const events = await finishedEvents(h(), requestId);
      assert.equal(events.length, 1);
      assert.equal(events[0].payload.counts.cancelled, 300);

      // Nothing is left for a writer or a robot.
      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();
      assert.equal((await allItems(h(), requestId)).length, 300);
      assert.equal(await leaseRecords(h(), robot, 100), null);
      const late = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(late.status, 409);
    });
  },
);

describeEachBackend(
  'large requests past their deadline',
  (h) => {
    it('the deadline writes the backlog and expires every item that had not finished', async () => {
      h().refinery.ctx.config.createSlice = 100;
      const robot = await h().createRobot();
      const ids = await h().importRecords(references(250));
      const requestId = await createLeavingBacklog(h(), robot.id, ids, new Date(h().clock.now().getTime() + 60_000).toISOString());
      advance(h(), 61_000);
      await h().refinery.maintenance.runOnce();
      await h().refinery.background.drain();

      const request = await getRequest(h(), requestId);
      assert.equal(request.status, 'expired');
      assert.equal(request.counts.expired, 250);
      const items = await allItems(h(), requestId);
      assert.equal(items.length, 250);
      assert.ok(items.every((i) => i.status === 'expired' && i.error?.code === 'request_expired'));
    });
  },
  { manualClock: true },
);

it('REFINERY_CREATE_SLICE takes a whole number from 100 to 1,000,000, and says so otherwise', () => {
  assert.equal(loadConfig({}, {}).createSlice, 10_000);
  assert.equal(loadConfig({}, { REFINERY_CREATE_SLICE: '250000' }).createSlice, 250_000);
  for (const bad of ['99', '1000001', '1e4', 'many', '']) {
    assert.throws(() => loadConfig({}, { REFINERY_CREATE_SLICE: bad }), (err: Error) => err instanceof ConfigError && /REFINERY_CREATE_SLICE must be a whole number from 100 to 1000000/.test(err.message));
  }
});
